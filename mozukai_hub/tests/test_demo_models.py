"""`make demo` renders the demo pots' 3D models that are missing, and says how to get OpenSCAD."""

from io import StringIO

import pytest
from django.core.management import call_command

from catalog.demo import POT_MODELS
from catalog.models import Product


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")


def seed_demo() -> str:
    out = StringIO()
    call_command("seed_demo", stdout=out)
    return out.getvalue()


def pot_models() -> dict:
    return dict(Product.objects.filter(slug__in=POT_MODELS).values_list("slug", "model_asset_id"))


@pytest.mark.django_db
def test_demo_without_openscad_names_the_command_then_renders_once_it_is_there(settings):
    settings.OPENSCAD_BINARY = "openscad-not-installed"
    output = seed_demo()
    assert "5 pots have no 3D model: OpenSCAD is not installed. Run `sudo apt-get update && sudo apt-get install -y openscad`" in output
    assert set(pot_models().values()) == {None}

    settings.OPENSCAD_BINARY = "openscad"
    assert "catalog: 5 pot models rendered with OpenSCAD" in seed_demo()
    rendered = pot_models()
    assert None not in rendered.values()

    Product.objects.filter(slug="cascade-pot").update(model_asset=None)
    assert "catalog: 1 pot models rendered with OpenSCAD" in seed_demo()
    again = pot_models()
    assert again["cascade-pot"] not in (None, rendered["cascade-pot"])
    assert {k: v for k, v in again.items() if k != "cascade-pot"} == {k: v for k, v in rendered.items() if k != "cascade-pot"}
    assert "pot models rendered" not in seed_demo()  # nothing missing: nothing rendered
