"""The local thumbnail engine (kind "thumbnail", name "local"): offline, deterministic.

Params are the project snapshot the jobs hook builds (see `validate_params`); a client may
send the same shape itself. Each variant is rendered by `render.render_variant` and stored as
a PNG of exactly the project's size (variant 1 primary) and, for YouTube platforms, a JPEG
under the platform's byte limit (2 MB): its quality is lowered step by step until it fits.
The job's result lists every variant with its asset ids and score report.

Remote engines (studio.providers.engines) subclass this one and override only
`variant_background` (plus name and is_configured): their image becomes the backdrop and the
local text layer goes on top. When their image already contains the person (they were sent
the selfie), they set `background_includes_selfie = True` and no cut-out is laid over it.
"""

from __future__ import annotations

import io
import shutil
import uuid
from pathlib import Path

from django.core.exceptions import ValidationError

from pipeline.engines import BaseEngine, EngineError, register
from pipeline.services.assets import IMAGE_TYPES
from studio import presets

from .render import render_variant

QUALITIES = ("std", "hd")
MODES = ("design", "copy")
MAX_VARIANTS = 4
TEXT_LIMITS = {"title": 200, "headline": 120, "subtext": 200}
KNOWN_PARAMS = {"project_id", "title", "mode", "platform", "width", "height", "headline", "subtext", "vibe",
                "quality", "variants", "inputs"}
JPEG_LIMIT_DEFAULT = 2 * 1024 * 1024
JPEG_QUALITIES = {"std": (90, 85, 80, 72, 64, 55, 45, 35), "hd": (95, 92, 88, 84, 78, 70, 60, 50, 40)}
PNG_COMPRESS_LEVEL = 3  # zlib level: 3 is several times faster than 6 for a few % more bytes


def _int(params: dict, name: str) -> int | None:
    value = params.get(name)
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise ValidationError({name: ["A whole number of pixels."]})
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise ValidationError({name: ["A whole number of pixels."]})
    if number != value and str(number) != str(value).strip():
        raise ValidationError({name: ["A whole number of pixels."]})
    return number


def _text(params: dict, name: str, *, required: bool = False) -> str:
    value = params.get(name)
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise ValidationError({name: ["A text."]})
    value = " ".join(value.split())
    if required and not value:
        raise ValidationError({name: ["This field is required."]})
    if len(value) > TEXT_LIMITS[name]:
        raise ValidationError({name: [f"At most {TEXT_LIMITS[name]} characters."]})
    return value


def _choice(params: dict, name: str, choices, default: str | None = None) -> str:
    value = params.get(name)
    if value in (None, "") and default is not None:
        return default
    value = str(value or "").strip().lower()
    if value not in choices:
        raise ValidationError({name: [f"Unknown {name} {value!r}; one of: {', '.join(choices)}."]})
    return value


def jpeg_under(image, limit: int, qualities: tuple[int, ...]) -> tuple[bytes, int]:
    """The image as a JPEG of under `limit` bytes, at the highest quality of `qualities` that
    fits; an EngineError when even the lowest does not."""
    data = b""
    for quality in qualities:
        buffer = io.BytesIO()
        image.save(buffer, "JPEG", quality=quality, optimize=True, progressive=True, subsampling=0 if quality >= 90 else 2)
        data = buffer.getvalue()
        if len(data) < limit:
            return data, quality
    raise EngineError(f"The JPEG does not fit under {limit} bytes even at quality {qualities[-1]}.",
                      error_type="output_too_large")


class ThumbnailEngine(BaseEngine):
    kind, name = "thumbnail", "local"
    moderated_params = ("title", "headline", "subtext")
    background_includes_selfie = False

    def is_configured(self) -> bool:
        return True

    # --- params ------------------------------------------------------------------------

    def validate_params(self, params: dict, *, owner) -> dict:
        if not isinstance(params, dict):
            raise ValidationError({"params": ["An object."]})
        unknown = sorted(set(params) - KNOWN_PARAMS)
        if unknown:
            raise ValidationError({name: ["Unknown parameter."] for name in unknown})
        platform_key = _choice(params, "platform", list(presets.PLATFORMS))
        vibe_key = _choice(params, "vibe", list(presets.VIBES))
        platform = presets.PLATFORMS[platform_key]
        width, height = presets.size_resolve(platform, _int(params, "width"), _int(params, "height"))
        errors = presets.size_errors(platform, width, height)
        if errors:
            raise ValidationError(errors)
        variants = params.get("variants", 1)
        if isinstance(variants, bool) or not isinstance(variants, (int, str)) or not str(variants).strip().isdigit() \
                or not 1 <= int(variants) <= MAX_VARIANTS:
            raise ValidationError({"variants": [f"A whole number from 1 to {MAX_VARIANTS}."]})
        project_id = params.get("project_id")
        if project_id not in (None, ""):
            try:
                project_id = str(uuid.UUID(str(project_id)))
            except ValueError:
                raise ValidationError({"project_id": ["A project id."]})
        return {
            "project_id": project_id or None,
            "title": _text(params, "title"),
            "mode": _choice(params, "mode", MODES, default="design"),
            "platform": platform_key,
            "width": width,
            "height": height,
            "headline": _text(params, "headline", required=True),
            "subtext": _text(params, "subtext"),
            "vibe": vibe_key,
            "quality": _choice(params, "quality", QUALITIES, default="std"),
            "variants": int(variants),
            "inputs": self._inputs_check(params.get("inputs"), owner=owner),
        }

    def _inputs_check(self, inputs, *, owner) -> dict:
        """Each named input is an image asset of the job's owner (another's, a missing one or
        a non-image is refused alike: naming it tells nothing)."""
        from pipeline.selectors import assets_for_owner

        if inputs in (None, ""):
            inputs = {}
        if not isinstance(inputs, dict):
            raise ValidationError({"inputs": ["An object with selfie, ref and copy_target asset ids."]})
        unknown = sorted(set(inputs) - set(presets.INPUT_ROLES))
        if unknown:
            raise ValidationError({f"inputs.{name}": ["Unknown input role; one of: selfie, ref, copy_target."]
                                   for name in unknown})
        checked: dict[str, str | None] = {}
        for role in presets.INPUT_ROLES:
            value = inputs.get(role)
            if value in (None, ""):
                checked[role] = None
                continue
            try:
                asset_id = uuid.UUID(str(value))
            except ValueError:
                raise ValidationError({f"inputs.{role}": ["An asset id."]})
            if not assets_for_owner(owner=owner, asset_ids=[asset_id]).filter(asset_type__in=IMAGE_TYPES).exists():
                raise ValidationError({f"inputs.{role}": [f"No image asset {asset_id} of yours."]})
            checked[role] = str(asset_id)
        return checked

    def input_asset_ids(self, params: dict) -> list[uuid.UUID]:
        inputs = params.get("inputs") or {}
        return [uuid.UUID(inputs[role]) for role in presets.INPUT_ROLES if inputs.get(role)]

    def price_units(self, params: dict) -> int:
        return int(params.get("variants") or 1) * presets.QUALITY_PRICE_UNITS[params.get("quality") or "std"]

    def moderation_texts(self, params: dict) -> list[str]:
        return [str(params.get(name) or "") for name in self.moderated_params if params.get(name)]

    def moderation_image_ids(self, params: dict) -> list[str]:
        return [str(i) for i in self.input_asset_ids(params)]

    # --- run ---------------------------------------------------------------------------

    def variant_background(self, ctx, params: dict, variant: int, inputs: dict[str, Path | None]) -> Path | None:
        """A backdrop image for this variant from elsewhere (remote engines); None: local."""
        return None

    def _input_paths(self, ctx, params: dict) -> dict[str, Path | None]:
        """Copy each input's file into the job's work directory (storage may be remote)."""
        from pipeline.models import Asset

        paths: dict[str, Path | None] = {}
        for role in presets.INPUT_ROLES:
            asset_id = (params.get("inputs") or {}).get(role)
            if not asset_id:
                paths[role] = None
                continue
            asset = Asset.objects.filter(pk=asset_id).first()
            if asset is None or not asset.file:
                raise EngineError(f"The {role} input ({asset_id}) is no longer available.", error_type="input_unavailable")
            target = ctx.workdir / f"input-{role}.{asset.asset_type}"
            with asset.file.open("rb") as source, target.open("wb") as sink:
                shutil.copyfileobj(source, sink)
            paths[role] = target
        return paths

    def run(self, ctx) -> dict:
        params = ctx.params
        ctx.stage("processing")
        inputs = self._input_paths(ctx, params)
        ctx.progress(5, "inputs", "Inputs ready")
        platform = presets.PLATFORMS[params["platform"]]
        wants_jpeg = platform.key.startswith("youtube")
        jpeg_limit = platform.max_bytes or JPEG_LIMIT_DEFAULT
        count = int(params["variants"])
        ctx.stage("generating_images")
        variants = []
        for variant in range(1, count + 1):
            ctx.progress(5 + round(90 * (variant - 1) / count), f"variant {variant}", f"Rendering variant {variant} of {count}")
            background = self.variant_background(ctx, params, variant, inputs)
            ctx.checkpoint()
            selfie = None if (background is not None and self.background_includes_selfie) else inputs["selfie"]
            rendered = render_variant(params, variant, selfie=selfie, reference=inputs["ref"],
                                      copy_target=inputs["copy_target"], background=background)
            if rendered.image.size != (params["width"], params["height"]):
                raise EngineError("The rendered image does not have the project's size.", error_type="internal")
            report = dict(rendered.report)
            report["engine"] = self.name
            png_path = ctx.workdir / f"variant-{variant}.png"
            rendered.image.save(png_path, "PNG", compress_level=PNG_COMPRESS_LEVEL)
            report["png_bytes"] = png_path.stat().st_size
            jpg_path = None
            if wants_jpeg:
                data, quality = jpeg_under(rendered.image, jpeg_limit, JPEG_QUALITIES[params["quality"]])
                jpg_path = ctx.workdir / f"variant-{variant}.jpg"
                jpg_path.write_bytes(data)
                report.update(jpg_bytes=len(data), jpg_quality=quality, jpg_limit_bytes=jpeg_limit)
            ctx.checkpoint()
            png = ctx.output(path=png_path, asset_type="png", primary=variant == 1, content_type="image/png")
            jpg = ctx.output(path=jpg_path, asset_type="jpg", content_type="image/jpeg") if jpg_path else None
            variants.append({"variant": variant, "png_asset_id": png["asset_id"],
                             "jpg_asset_id": jpg["asset_id"] if jpg else None, "report": report})
            ctx.progress(5 + round(90 * variant / count), f"variant {variant}", f"Variant {variant} of {count} stored")
        return {"variants": variants}


register(ThumbnailEngine())
