"""`make demo`: the Chinese elm in the shop gets a 3D model made by photogrammetry of a rendered scene.

The scene (pipeline.photogrammetry.synthetic) is rendered here, from DEMO_VIEWS cameras, then goes
through the same COLMAP reconstruction and meshing the local engine runs, sandboxed as in a job.
It runs outside the job system because `seed_demo` holds one transaction around every seeder
(a job's lease keeper writes from its own thread). Idempotent: once the product has a model it is
left alone. About a minute on two cores.
"""

import shutil
import tempfile
import time
from pathlib import Path

from django.apps import apps
from django.conf import settings
from django.core.files.base import ContentFile
from django.utils.module_loading import import_string

from mozukai_hub.sandbox import run_program

from ..models import Asset
from .colmap import ReconstructionError, reconstruct
from .mesh import MeshError, mesh_build
from .synthetic import render_scene

DEMO_PRODUCT = "chinese-elm"
DEMO_VIEWS = 16


def seed_photogrammetry(stdout) -> None:
    from accounts.models import User

    product = apps.get_model("catalog", "Product").objects.filter(slug=DEMO_PRODUCT).first()
    owner = User.objects.filter(is_staff=True).order_by("date_joined").first()
    if product is None or owner is None or product.model_asset_id:
        return
    if shutil.which(settings.COLMAP_BINARY) is None:
        stdout.write(f"photogrammetry: {product.name} has no 3D model: COLMAP is not installed.\n")
        return
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="photogrammetry-demo-") as directory:
        work = Path(directory)
        truth = render_scene(work / "images", views=DEMO_VIEWS)
        (work / "images" / "truth.json").unlink()

        def run(argv, *, on_line=None, env=None):
            return run_program(argv, cwd=work, timeout_seconds=600, memory_bytes=settings.COLMAP_MEMORY_BYTES,
                               file_bytes=4 * 1024 * 1024 * 1024, env=env, on_line=on_line)

        try:
            model = reconstruct(images=work / "images", workspace=work / "colmap", count=DEMO_VIEWS, single_camera=True,
                                quality="balanced", run=run)
            facts = mesh_build(model=model, workdir=work, run=run)
        except (ReconstructionError, MeshError, RuntimeError) as error:
            stdout.write(f"photogrammetry: no demo model: {error}\n")
            return
        quality = model.quality(total_images=DEMO_VIEWS)
        glb = (work / "model.glb").read_bytes()
    asset = Asset(owner=owner, asset_type=Asset.Type.GLB, role=Asset.Role.OUTPUT, is_primary=True, size=len(glb),
                  content_type="model/gltf-binary")
    asset.file.save("model.glb", ContentFile(glb), save=True)
    type(product).objects.filter(pk=product.pk).update(model_asset=asset)
    import_string("catalog.cache.product_list_cache_invalidate")()
    stdout.write(
        f"photogrammetry: {product.name} got a model from {quality['registered_images']}/{DEMO_VIEWS} rendered views "
        f"(focal {quality['focal_px']} px, truth {truth.focal_px:g}; {facts['faces']} faces) "
        f"in {time.monotonic() - started:.0f} s\n")
