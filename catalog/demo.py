"""`make run` demo data: a bonsai catalog with photos drawn in code. Idempotent (by slug)."""

from decimal import Decimal

from django.core.files.base import ContentFile
from django.db import transaction

from .cache import product_list_cache_invalidate
from .demo_images import product_photo
from .models import Category, Product

CATEGORIES = [
    ("trees", "Trees", "Living bonsai from our nursery, styled and ready to grow with you."),
    ("pots", "Pots", "Glazed and unglazed pots from potters in Tokoname and beyond."),
    ("tools", "Tools", "Shears, cutters and pliers made to last a lifetime of pruning."),
    ("soil", "Soil", "Free-draining mixes for conifers, deciduous trees and tropicals."),
    ("accessories", "Accessories", "Wire, stands, turntables and everything in between."),
]

GREEN, DARK, LIGHT, RED = (78, 122, 70), (52, 92, 58), (120, 160, 90), (170, 70, 50)

# slug, name, category, price, stock, drawing, colour, description
PRODUCTS = [
    ("shimpaku-juniper", "Shimpaku juniper", "trees", "189.00", 4, "dense", DARK, "A classic Japanese juniper with fine, tight foliage and a twisting trunk. Full sun; keep the soil evenly moist."),
    ("trident-maple", "Trident maple", "trees", "149.00", 6, "tree", GREEN, "Vigorous and forgiving, with three-lobed leaves that turn orange and red in autumn."),
    ("japanese-black-pine", "Japanese black pine", "trees", "229.00", 2, "dense", DARK, "The king of bonsai: strong needles, rugged bark and decades of character."),
    ("chinese-elm", "Chinese elm", "trees", "69.00", 15, "tree", LIGHT, "The ideal first tree: small leaves, tolerant of indoor light and a beginner's mistakes."),
    ("ficus-retusa", "Ficus retusa", "trees", "59.00", 12, "tree", GREEN, "An indoor tropical with glossy leaves and aerial roots. Bright light, no frost."),
    ("satsuki-azalea", "Satsuki azalea", "trees", "129.00", 3, "flowering", GREEN, "Covered in blossom every June. Lime-free soil (kanuma) and soft water."),
    ("japanese-white-pine", "Japanese white pine", "trees", "259.00", 1, "dense", (70, 110, 100), "Soft blue-green needles in tufts; a mountain tree in miniature."),
    ("cherry-prunus", "Flowering cherry", "trees", "139.00", 5, "flowering", LIGHT, "Spring blossom on a compact, informal upright trunk."),
    ("zelkova-broom", "Zelkova, broom style", "trees", "119.00", 7, "tree", GREEN, "Fine, even branching in the classic broom form."),
    ("larch-forest", "Larch forest planting", "trees", "299.00", 1, "tree", LIGHT, "Seven young larches on a shallow slab: a forest on your table."),
    ("tokoname-oval-pot", "Tokoname oval pot, unglazed", "pots", "48.00", 20, "pot", (124, 76, 56), "Hand-thrown in Tokoname from iron-rich clay. 25 cm, two drainage holes."),
    ("blue-glazed-round-pot", "Round pot, namako blue glaze", "pots", "56.00", 10, "pot", (60, 92, 128), "A deep round pot with a dappled namako glaze; suits flowering trees."),
    ("cream-glazed-rectangle", "Rectangular pot, cream glaze", "pots", "42.00", 14, "pot", (226, 214, 186), "Clean lines and a soft cream glaze for deciduous trees."),
    ("cascade-pot", "Cascade pot, tall", "pots", "64.00", 6, "pot", (96, 70, 58), "Tall and square for cascade and semi-cascade styles."),
    ("mica-training-pot", "Mica training pot", "pots", "18.00", 40, "pot", (60, 60, 60), "Light, frost-proof and strong: the growing-on pot."),
    ("celadon-drum-pot", "Drum pot, celadon glaze", "pots", "72.00", 3, "pot", (150, 180, 160), "A drum pot with studs and a pale celadon glaze."),
    ("concave-cutter", "Concave branch cutter", "tools", "39.00", 18, "tool", (40, 40, 40), "Leaves a hollow cut that heals flat. Carbon steel, 205 mm."),
    ("bonsai-shears", "Bonsai shears, butterfly", "tools", "29.00", 25, "tool", (30, 30, 30), "Everyday shears with large finger loops for comfortable trimming."),
    ("knob-cutter", "Knob cutter", "tools", "44.00", 9, "tool", (50, 50, 50), "Removes stubs and knobs cleanly; rounded jaws."),
    ("wire-cutter", "Wire cutter", "tools", "26.00", 16, "tool", (90, 40, 40), "Cuts wire close to the branch without marking the bark."),
    ("root-rake", "Root rake and spatula", "tools", "19.00", 22, "tool", (70, 70, 70), "Combs out old soil at repotting; spatula end for moss."),
    ("tool-set-beginner", "Beginner tool set (4 pieces)", "tools", "79.00", 8, "tool", (30, 60, 40), "Shears, concave cutter, wire cutter and rake in a canvas roll."),
    ("akadama-hard", "Akadama, hard fired (14 l)", "soil", "29.00", 30, "soil", (168, 110, 70), "Japanese volcanic clay that holds water and air. Double-fired, 3–6 mm."),
    ("pumice-grit", "Pumice (10 l)", "soil", "22.00", 25, "soil", (205, 200, 185), "Light, porous and free-draining; the backbone of a good mix."),
    ("lava-rock", "Lava rock (10 l)", "soil", "21.00", 25, "soil", (110, 60, 50), "Adds structure and drainage; never breaks down."),
    ("kanuma", "Kanuma (14 l)", "soil", "31.00", 12, "soil", (220, 190, 120), "Acidic and soft, for azaleas and other lime-haters."),
    ("conifer-mix", "Conifer mix (5 l)", "soil", "17.00", 35, "soil", (150, 120, 90), "Akadama, pumice and lava in equal parts, sieved and ready."),
    ("tropical-mix", "Tropical mix (5 l)", "soil", "15.00", 0, "soil", (120, 95, 70), "A richer mix for indoor ficus and carmona. Back soon."),
    ("anodised-wire-set", "Anodised aluminium wire set", "accessories", "24.00", 30, "coil", (150, 100, 60), "Five gauges, 1 to 4 mm, in the soft copper colour that disappears on the tree."),
    ("copper-wire-2mm", "Annealed copper wire, 2 mm", "accessories", "16.00", 20, "coil", (184, 115, 51), "Holds conifer branches firmly; 250 g roll."),
    ("display-stand", "Display stand, elm", "accessories", "54.00", 5, "coil", (110, 75, 45), "A low carved stand to show a tree at its best."),
    ("turntable", "Work turntable", "accessories", "89.00", 4, "coil", (80, 80, 80), "Heavy, smooth and lockable; work around the tree, not around the table."),
    ("moss-spores", "Moss spores", "accessories", "9.00", 50, "coil", (90, 140, 70), "Dried moss to scatter on the soil surface."),
]


def seed_catalog(stdout) -> None:
    categories = {}
    for position, (slug, name, description) in enumerate(CATEGORIES):
        categories[slug], _ = Category.objects.get_or_create(
            slug=slug, defaults={"name": name, "description": description, "position": position})
    created = 0
    for slug, name, category, price, stock, drawing, colour, description in PRODUCTS:
        with transaction.atomic():
            product, was_created = Product.objects.get_or_create(slug=slug, defaults={
                "name": name, "category": categories[category], "price": Decimal(price), "stock_quantity": stock,
                "description": description,
            })
            if not product.image:
                photo = product_photo(kind=drawing, seed=slug, colour=colour, label=name.split(" (")[0])
                product.image.save(f"{slug}.png", ContentFile(photo), save=True)
            created += was_created
    product_list_cache_invalidate()
    stdout.write(f"catalog: {len(CATEGORIES)} categories, {len(PRODUCTS)} products ({created} new)\n")
    seed_pot_models(stdout)


# Pots get a 3D model from the pipeline's OpenSCAD pot template: slug → (dimensions mm, features).
POT_MODELS = {
    "tokoname-oval-pot": ({"width": 250, "depth": 180, "height": 70}, {"shape": "rectangular", "drainage_holes": 2}),
    "blue-glazed-round-pot": ({"width": 200, "height": 110}, {"drainage_holes": 1}),
    "cream-glazed-rectangle": ({"width": 220, "depth": 160, "height": 60}, {"shape": "rectangular", "drainage_holes": 2}),
    "cascade-pot": ({"width": 140, "depth": 140, "height": 180}, {"shape": "rectangular", "drainage_holes": 1}),
    "celadon-drum-pot": ({"width": 180, "height": 90}, {"drainage_holes": 3}),
}


def seed_pot_models(stdout) -> None:
    """Render the pots' GLB models with OpenSCAD (once; a pot that has one keeps it)."""
    import shutil
    import tempfile
    from pathlib import Path

    from django.conf import settings

    from accounts.models import User
    from mozukai_hub.system_packages import PACKAGE_NAMES, install_command
    from pipeline.engines import EngineError
    from pipeline.engines.scad.render import openscad_render, stl_to_glb
    from pipeline.engines.scad.templates import bonsai_pot
    from pipeline.models import Asset

    owner = User.objects.filter(is_staff=True).order_by("date_joined").first()
    pots = {p.slug: p for p in Product.objects.filter(slug__in=POT_MODELS, model_asset__isnull=True)}
    if owner is None or not pots:
        return
    if shutil.which(settings.OPENSCAD_BINARY) is None:
        # `make demo` checks first (mozukai_hub/system_packages.py); this is `manage.py seed_demo` run by hand.
        stdout.write(
            f"catalog: {len(pots)} pots have no 3D model: OpenSCAD is not installed. "
            f"Run `{install_command([PACKAGE_NAMES['openscad']])}`, then `make demo` renders them.\n"
        )
        return
    rendered = 0
    for slug, product in pots.items():
        dims, features = POT_MODELS[slug]
        model = bonsai_pot(dims, features)
        colour = {spec[0]: spec[6] for spec in PRODUCTS}[slug]
        with tempfile.TemporaryDirectory() as tmp:
            scad, stl, glb = Path(tmp, "pot.scad"), Path(tmp, "pot.stl"), Path(tmp, "pot.glb")
            scad.write_text(model.scad)
            try:
                openscad_render(scad_path=scad, stl_path=stl)
                stl_to_glb(stl_path=stl, glb_path=glb, color=tuple(c / 255 for c in colour) + (1.0,))
            except EngineError as error:
                stdout.write(f"catalog: no 3D model for {slug}: {error}\n")
                continue
            with transaction.atomic():
                asset = Asset(owner=owner, asset_type=Asset.Type.GLB, role=Asset.Role.OUTPUT, is_primary=True,
                              size=glb.stat().st_size, content_type="model/gltf-binary")
                asset.file.save(f"{slug}.glb", ContentFile(glb.read_bytes()), save=True)
                Product.objects.filter(pk=product.pk, model_asset__isnull=True).update(model_asset=asset)
        rendered += 1
    product_list_cache_invalidate()
    stdout.write(f"catalog: {rendered} pot models rendered with OpenSCAD\n")
