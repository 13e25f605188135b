import io

import pytest
from PIL import Image

from catalog.demo import seed_catalog
from catalog.models import Category, Product

pytestmark = pytest.mark.django_db


def test_demo_catalog_is_complete_and_idempotent(staff_user):
    out = io.StringIO()
    seed_catalog(out)
    seed_catalog(out)
    assert Product.objects.count() >= 30
    assert set(Category.objects.values_list("slug", flat=True)) == {"trees", "pots", "tools", "soil", "accessories"}
    for category in Category.objects.all():
        assert category.products.count() >= 5
    product = Product.objects.get(slug="trident-maple")
    with product.image.open("rb") as handle:
        photo = Image.open(handle)
        assert photo.size == (800, 800) and photo.format == "PNG"
    assert not Product.objects.filter(image="").exists()
    lines = out.getvalue().splitlines()
    assert "(33 new)" in lines[0] and "5 pot models rendered" in lines[1] and lines[2:] == [lines[2]] and "(0 new)" in lines[2]
    pot = Product.objects.select_related("model_asset").get(slug="celadon-drum-pot")
    with pot.model_asset.file.open("rb") as handle:
        assert handle.read(4) == b"glTF"
    assert Product.objects.filter(model_asset__isnull=False).count() == 5
