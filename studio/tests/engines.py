"""A small thumbnail engine for the studio's API and page tests (registered by the
`thumb_test_engine` fixture, removed again after the test).

It honours the thumbnail contract (params snapshot, inputs checked, price = variants × quality
units, one PNG per variant at exactly the project's size, `result["variants"]` with a report)
but draws only a flat frame with a bar per variant, so tests of the API and pages stay fast and
do not depend on the real renderer (studio.thumbnail), which has its own tests.
"""

import uuid

import pytest
from django.core.exceptions import ValidationError
from PIL import Image, ImageDraw

from pipeline import engines
from pipeline.engines import BaseEngine
from studio import presets

NAME = "thumb_test"


class ThumbTestEngine(BaseEngine):
    kind = "thumbnail"
    name = NAME
    moderated_params = ("headline", "subtext", "title")

    def validate_params(self, params: dict, *, owner) -> dict:
        if params.get("quality") not in presets.QUALITY_PRICE_UNITS:
            raise ValidationError({"quality": ["std or hd."]})
        if not 1 <= int(params.get("variants", 0)) <= 4:
            raise ValidationError({"variants": ["1 to 4."]})
        return params

    def input_asset_ids(self, params: dict) -> list[uuid.UUID]:
        return [uuid.UUID(v) for v in (params.get("inputs") or {}).values() if v]

    def price_units(self, params: dict) -> int:
        return params["variants"] * presets.QUALITY_PRICE_UNITS[params["quality"]]

    def run(self, ctx) -> dict:
        params = ctx.params
        ctx.stage("processing")
        variants = []
        for n in range(1, params["variants"] + 1):
            image = Image.new("RGB", (params["width"], params["height"]), presets.VIBES[params["vibe"]].palette["background"])
            ImageDraw.Draw(image).rectangle((0, 0, params["width"] * n // 5, params["height"] // 8), fill="#FFD400")
            path = ctx.workdir / f"variant-{n}.png"
            image.save(path)
            png = ctx.output(path=path, asset_type="png", primary=n == 1, content_type="image/png")
            ctx.progress(int(90 * n / params["variants"]), "rendering", f"Variant {n} of {params['variants']}")
            variants.append({"variant": n, "png_asset_id": png["asset_id"], "jpg_asset_id": None,
                             "report": {"contrast_ratio": 7.5 + n, "headline_height_share": 0.18,
                                        "legible_at_168x94": True, "safe_zone_violations": [], "png_bytes": png["size"]}})
        return {"variants": variants}


@pytest.fixture
def thumb_test_engine():
    engines._load()
    engine = engines.register(ThumbTestEngine())
    yield engine
    engines._REGISTRY.pop((engine.kind, engine.name), None)
