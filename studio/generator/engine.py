"""The photo generator's engine (seed 002): kind `photo_style`, name `local`.

Params (a snapshot taken when the job is created): `{"category": "portraits"|"editorial"|
"documentary", "photo_asset_id": str}`. The photo is the job's one input asset:

* a signed-in user's job names an upload of theirs (`photo_asset_id`, resolved through the
  owner's access gate by `pipeline.services.job_create`, a 404 for anyone else's);
* an anonymous visitor owns no asset before its job exists (`pipeline.selectors.assets_for_owner`),
  so its photo is stored as the job's input in the transaction that creates the job
  (`studio.generator.services.photo_job_create`), and a visitor may not name one.

`run` copies the photo into the job's work directory, calls `styled_photo(ctx, source, category)`
and stores the file it returns as the job's primary output. The local engine styles with
`studio.generator.styling.style_photo`; a remote engine (OpenRouter, studio.providers.engines)
subclasses this one and overrides `styled_photo` (plus `name` and `is_configured`).
"""

import shutil
import uuid
from pathlib import Path

from django.core.exceptions import ValidationError
from PIL import Image, UnidentifiedImageError

from pipeline.engines import BaseEngine, EngineError, register
from pipeline.models import JobInput

from .styling import CATEGORIES, style_photo

PARAMS = ("category", "photo_asset_id")
# What a styled photo may be stored as (the file's real format decides, never its name).
OUTPUT_FORMATS = {"JPEG": ("jpg", "image/jpeg"), "MPO": ("jpg", "image/jpeg"), "PNG": ("png", "image/png"),
                  "WEBP": ("webp", "image/webp")}
JPEG_QUALITY = 90


def category_clean(value) -> str:
    """A category name as the API takes it (any case, spaces around); ValidationError otherwise."""
    category = str(value or "").strip().lower()
    if category not in CATEGORIES:
        raise ValidationError({"category": [f"Unknown category {str(value or '')[:40]!r}; one of: {', '.join(CATEGORIES)}."]})
    return category


class PhotoStyleEngine(BaseEngine):
    kind, name = "photo_style", "local"
    moderated_params = ()  # a category from a fixed list: no free text to moderate

    def validate_params(self, params: dict, *, owner) -> dict:
        unknown = sorted(set(params) - set(PARAMS))
        if unknown:
            raise ValidationError({name: ["Unknown parameter."] for name in unknown})
        clean = {"category": category_clean(params.get("category"))}
        photo = params.get("photo_asset_id")
        if owner.is_visitor:
            if photo:
                raise ValidationError({"photo_asset_id": [
                    "An anonymous visitor uploads the photo with the request (POST /api/v1/generate)."]})
            return clean
        try:
            clean["photo_asset_id"] = str(uuid.UUID(str(photo)))
        except ValueError:
            raise ValidationError({"photo_asset_id": ["The id of a photo you uploaded (an image asset)."]})
        return clean

    def input_asset_ids(self, params: dict) -> list[uuid.UUID]:
        photo = params.get("photo_asset_id")
        return [uuid.UUID(photo)] if photo else []

    def run(self, ctx) -> dict:
        ctx.stage("processing")
        category = ctx.params["category"]
        source = self._photo_fetch(ctx)
        ctx.progress(10, "photo", "Photo received")
        ctx.stage("generating_images")
        ctx.progress(20, "styling", f"Styling the photo: {category}")
        path = self.styled_photo(ctx, source, category)
        ctx.checkpoint()
        asset_type, content_type, width, height = _output_check(path)
        ctx.progress(90, "output", "Saving the styled photo")
        output = ctx.output(path=path, asset_type=asset_type, primary=True, content_type=content_type)
        return {"category": category, "engine": self.name, "width": width, "height": height, "outputs": [output]}

    def styled_photo(self, ctx, source: Path, category: str) -> Path:
        """The styled photo as a file in `ctx.workdir` (local: `style_photo`, saved as JPEG)."""
        with Image.open(source) as photo:
            styled = style_photo(photo, category)
        path = ctx.workdir / "styled.jpg"
        styled.save(path, format="JPEG", quality=JPEG_QUALITY)  # no exif= given: none is written
        return path

    def _photo_fetch(self, ctx) -> Path:
        """The job's photo copied into the work directory (any storage: local files or S3)."""
        item = JobInput.objects.filter(job=ctx.job).select_related("asset").order_by("id").first()
        if item is None or item.asset is None or not item.asset.file:
            raise EngineError("The job has no photo to style.", error_type="input_unavailable")
        source = ctx.workdir / f"source.{item.asset.asset_type}"
        with item.asset.file.open("rb") as stored, source.open("wb") as copy:
            shutil.copyfileobj(stored, copy)
        return source


def _output_check(path: Path) -> tuple[str, str, int, int]:
    """What an engine wrote must be a whole image of a stored format; else the job fails
    (and its credit goes back)."""
    try:
        with Image.open(path) as image:
            kind = image.format
            width, height = image.size
            image.load()
    except (OSError, UnidentifiedImageError, Image.DecompressionBombError) as exc:
        raise EngineError(f"The styled photo is not a readable image ({type(exc).__name__}).",
                          error_type="bad_output") from exc
    if kind not in OUTPUT_FORMATS:
        raise EngineError(f"The styled photo is a {kind} image; JPEG, PNG or WebP expected.", error_type="bad_output")
    return (*OUTPUT_FORMATS[kind], width, height)


register(PhotoStyleEngine())
