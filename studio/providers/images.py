"""Images going to and coming from the remote image providers.

Out: an uploaded image is sent as base64 (Gemini's `inline_data`) or a data URL (Seedream,
fal, OpenRouter), EXIF orientation applied, at most `SEND_MAX_SIDE` px on its long side and
re-encoded (JPEG, or PNG when it has transparency), so no metadata of the upload leaves us and
no request grows past the providers' limits (Gemini: 20 MB a request; Seedream: 10 MB an image).

In: whatever a provider answers is decoded in full by Pillow within the upload pixel limit and
written back as a fresh PNG without metadata; anything else is a `provider_output` failure.
"""

import base64
import binascii
import io
import re
from pathlib import Path

from django.conf import settings
from PIL import Image, ImageOps, UnidentifiedImageError

from pipeline.providers import ProviderError

SEND_MAX_SIDE = 1536
_DATA_URL = re.compile(r"^data:(image/[\w.+-]+);base64,(.*)$", re.DOTALL)


def image_encoded(path: Path, *, max_side: int = SEND_MAX_SIDE) -> tuple[str, str]:
    """(mime type, base64 text) of the image at `path`, oriented, downscaled and re-encoded."""
    with Image.open(path) as opened:
        image = ImageOps.exif_transpose(opened)
        image.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
        buffer = io.BytesIO()
        if "A" in image.getbands() or image.mode == "P" and "transparency" in image.info:
            image.convert("RGBA").save(buffer, format="PNG", optimize=True)
            mime = "image/png"
        else:
            image.convert("RGB").save(buffer, format="JPEG", quality=90)
            mime = "image/jpeg"
    return mime, base64.b64encode(buffer.getvalue()).decode("ascii")


def image_data_url(path: Path, *, max_side: int = SEND_MAX_SIDE) -> str:
    mime, data = image_encoded(path, max_side=max_side)
    return f"data:{mime};base64,{data}"


def image_from_bytes(data: bytes, path: Path, *, provider: str) -> Path:
    """Decode a provider's image and write it to `path` as a clean PNG; `path`.

    Raises ProviderError(provider_output) for anything that is not a whole image within limits.
    """
    refused = f"{provider} answered with an image we cannot use"
    if len(data) > settings.PROVIDER_MAX_OUTPUT_BYTES:
        raise ProviderError(f"{refused}: larger than {settings.PROVIDER_MAX_OUTPUT_BYTES} bytes.", "provider_output")
    try:
        with Image.open(io.BytesIO(data)) as opened:
            width, height = opened.size
            if width * height > settings.PIPELINE_UPLOAD_MAX_PIXELS:
                raise ProviderError(f"{refused}: {width}×{height} pixels is over the limit.", "provider_output")
            opened.load()
            image = opened.convert("RGBA" if "A" in opened.getbands() else "RGB")
    except ProviderError:
        raise
    except Image.DecompressionBombError as exc:
        raise ProviderError(f"{refused}: too many pixels.", "provider_output") from exc
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise ProviderError(f"{refused} ({type(exc).__name__}).", "provider_output") from exc
    image.info = {}
    path = Path(path)
    image.save(path, format="PNG")
    return path


def image_from_base64(data: object, path: Path, *, provider: str) -> Path:
    if not isinstance(data, str):
        raise ProviderError(f"{provider} answered with image data that is not base64 text.", "provider_output")
    limit = settings.PROVIDER_MAX_OUTPUT_BYTES * 4 // 3 + 4
    if len(data) > limit:
        raise ProviderError(f"{provider} answered with an image larger than allowed.", "provider_output")
    try:
        raw = base64.b64decode(data, validate=False)
    except (binascii.Error, ValueError) as exc:
        raise ProviderError(f"{provider} answered with image data that is not base64.", "provider_output") from exc
    return image_from_bytes(raw, path, provider=provider)


def image_from_data_url(url: str, path: Path, *, provider: str) -> Path:
    match = _DATA_URL.match(url.strip()) if isinstance(url, str) else None
    if not match:
        raise ProviderError(f"{provider} answered with an image address we do not read.", "provider_output")
    return image_from_base64(match.group(2), path, provider=provider)


def image_from_file(path: Path, *, provider: str) -> Path:
    """Check a downloaded provider image and rewrite it as a clean PNG beside it; the PNG's path."""
    path = Path(path)
    data = path.read_bytes()
    path.unlink(missing_ok=True)
    return image_from_bytes(data, path.with_suffix(".png"), provider=provider)
