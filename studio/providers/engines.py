"""Remote engines (issue 11): thumbnails through Gemini ("nano_banana"), Seedream ("bytedance")
and fal ("fal"); photo styling through OpenRouter ("openrouter"). Each is configured by its key
alone; a job naming an unconfigured one is a 400 (pipeline.engines.engine_resolve).

Who does what in a remote thumbnail: the remote model makes the picture, the local text layer
(`studio.thumbnail.render.render_variant(..., background=…)`) typesets the headline and subtext
on it, so the words are spelled exactly, sized to their box, kept out of the platform's safe
zones and contrast-checked (a grade or panel is added under them when the picture is busy), and
every variant gets the same score report as a local one.
- Gemini and Seedream are sent the project's selfie and reference with a prompt built from the
  title, headline, subtext and vibe (`prompts.thumbnail_prompt`); they draw the person into the
  scene, so no local cut-out is laid over their image (`background_includes_selfie`).
- fal (FLUX) is sent the reference only (image-to-image; text-to-image without one): it makes
  the backdrop and leaves the subject's place free; the selfie is cut out locally and placed on
  it, as the local engine does. Its seed is the local renderer's, so a rerun asks for the same.
The prompt places the subject and keeps the text's side calm according to the variant's
arrangement (`studio.thumbnail.layout`), the same one the text layer then uses. A copy target
is only ever read for its layout, never sent.
"""

import uuid
from pathlib import Path

from django.conf import settings
from PIL import Image, ImageOps

from pipeline.engines import register
from studio.generator.engine import JPEG_QUALITY, PhotoStyleEngine
from studio.thumbnail.engine import ThumbnailEngine
from studio.thumbnail.layout import Arrangement, copy_layout, variant_arrangement
from studio.thumbnail.render import spec_seed

from .fal import FalClient, fal_image_urls, fal_queue_run
from .gemini import aspect_ratio_nearest, gemini_generate_image
from .images import image_data_url, image_from_file
from .openrouter import openrouter_style_photo
from .prompts import thumbnail_prompt
from .seedream import seedream_generate_image

PHOTO_MAX_SIDE = 2048  # as the local photo engine: a styled photo is at most this on its long side
FAL_MAX_SIDE = 2048
FAL_STEP = 16
FAL_IMAGE_TO_IMAGE_STRENGTH = 0.85  # how far from the reference FLUX may go (1: ignore it)


class RemoteThumbnailEngine(ThumbnailEngine):
    """A thumbnail engine whose variants' pictures come from a provider (see the module docstring)."""

    provider = ""

    def arrangement(self, params: dict, variant: int, inputs: dict[str, Path | None]) -> Arrangement:
        """The variant's layout, as `render_variant` will lay it out."""
        copy_target = inputs.get("copy_target")
        return variant_arrangement(variant, copy_layout(copy_target) if copy_target else None)

    def prompt(self, params: dict, variant: int, inputs: dict[str, Path | None]) -> str:
        return thumbnail_prompt(
            params, variant, selfie=bool(inputs.get("selfie")), reference=bool(inputs.get("ref")),
            composite=self.background_includes_selfie, arrangement=self.arrangement(params, variant, inputs),
        )

    def remote_path(self, ctx, variant: int) -> Path:
        ctx.log(f"Variant {variant}: asking {self.provider} for the picture")
        return ctx.workdir / f"remote-{variant}.png"


class GeminiThumbnailEngine(RemoteThumbnailEngine):
    name, provider = "nano_banana", "Gemini"
    background_includes_selfie = True

    def is_configured(self) -> bool:
        return bool(settings.GEMINI_API_KEY)

    def variant_background(self, ctx, params, variant, inputs):
        out = self.remote_path(ctx, variant)
        images = [path for path in (inputs.get("selfie"), inputs.get("ref")) if path]
        return gemini_generate_image(prompt=self.prompt(params, variant, inputs), images=images,
                                     aspect_ratio=aspect_ratio_nearest(params["width"], params["height"]), out=out)


class SeedreamThumbnailEngine(RemoteThumbnailEngine):
    name, provider = "bytedance", "Seedream"
    background_includes_selfie = True

    def is_configured(self) -> bool:
        return bool(settings.SEEDREAM_API_KEY)

    def variant_background(self, ctx, params, variant, inputs):
        out = self.remote_path(ctx, variant)
        images = [path for path in (inputs.get("selfie"), inputs.get("ref")) if path]
        return seedream_generate_image(prompt=self.prompt(params, variant, inputs), images=images,
                                       width=params["width"], height=params["height"], out=out)


def fal_image_size(width: int, height: int) -> dict:
    """The project's aspect at most FAL_MAX_SIDE on its long side, in steps of 16 px."""
    scale = min(1.0, FAL_MAX_SIDE / max(width, height))
    return {"width": max(FAL_STEP, round(width * scale / FAL_STEP) * FAL_STEP),
            "height": max(FAL_STEP, round(height * scale / FAL_STEP) * FAL_STEP)}


class FalThumbnailEngine(RemoteThumbnailEngine):
    name, provider = "fal", "fal"
    background_includes_selfie = False

    def is_configured(self) -> bool:
        return bool(settings.FAL_KEY)

    def fal_request(self, params: dict, variant: int, inputs: dict[str, Path | None]) -> tuple[str, dict]:
        """(model, arguments) of one variant's request."""
        arguments = {"prompt": self.prompt(params, variant, inputs), "num_images": 1,
                     "seed": spec_seed(params, variant) % 2**31, "enable_safety_checker": True, "output_format": "png"}
        if inputs.get("ref"):
            arguments.update(image_url=image_data_url(inputs["ref"]), strength=FAL_IMAGE_TO_IMAGE_STRENGTH)
            return settings.FAL_IMAGE_TO_IMAGE_MODEL, arguments
        arguments["image_size"] = fal_image_size(params["width"], params["height"])
        return settings.FAL_IMAGE_MODEL, arguments

    def variant_background(self, ctx, params, variant, inputs):
        out = self.remote_path(ctx, variant)
        model, arguments = self.fal_request(params, variant, inputs)
        timeout = min(settings.FAL_TIMEOUT_SECONDS, self.time_limit_seconds)
        urls = fal_image_urls(fal_queue_run(ctx, model=model, arguments=arguments, timeout_seconds=timeout))
        download = out.with_name(f"fal-{uuid.uuid4().hex}.download")
        with FalClient() as client:
            client.download(urls[0], download, max_bytes=settings.PROVIDER_MAX_OUTPUT_BYTES)
        return image_from_file(download, provider="fal").replace(out)


class OpenRouterPhotoStyleEngine(PhotoStyleEngine):
    """The photo generator through OpenRouter's image model: the photo and the category's prompt
    go out, the edited image comes back; it is fitted to the photo's aspect (cover-cropped),
    kept within PHOTO_MAX_SIDE and stored as a JPEG without metadata, as the local engine does."""

    name = "openrouter"

    def is_configured(self) -> bool:
        return bool(settings.OPENROUTER_API_KEY)

    def styled_photo(self, ctx, source: Path, category: str) -> Path:
        ctx.log(f"Asking OpenRouter ({settings.OPENROUTER_MODEL}) for the {category} look")
        remote = openrouter_style_photo(source=source, category=category, out=ctx.workdir / "openrouter.png")
        with Image.open(source) as photo:
            aspect = ImageOps.exif_transpose(photo).size
        with Image.open(remote) as image:
            styled = fit_to_aspect(image.convert("RGB"), aspect)
        path = ctx.workdir / "styled.jpg"
        styled.save(path, format="JPEG", quality=JPEG_QUALITY)
        return path


def fit_to_aspect(image: Image.Image, aspect: tuple[int, int], max_side: int = PHOTO_MAX_SIDE) -> Image.Image:
    """`image` cover-cropped (centred) to aspect[0]:aspect[1], at most `max_side` on its long side."""
    ratio = aspect[0] / aspect[1]
    width, height = image.size
    if width / height > ratio:
        size = (max(1, round(height * ratio)), height)
    else:
        size = (width, max(1, round(width / ratio)))
    scale = min(1.0, max_side / max(size))
    size = (max(1, round(size[0] * scale)), max(1, round(size[1] * scale)))
    return ImageOps.fit(image, size, Image.Resampling.LANCZOS)


register(GeminiThumbnailEngine())
register(SeedreamThumbnailEngine())
register(FalThumbnailEngine())
register(OpenRouterPhotoStyleEngine())
