"""BytePlus ModelArk Seedream image generation ("bytedance"), over the provider client.

Protocol (https://docs.byteplus.com/en/docs/ModelArk/1541523, "Image generation API"):
`POST {SEEDREAM_BASE_URL}/api/v3/images/generations` with `Authorization: Bearer <key>` and
`{"model", "prompt", "image": [data URLs], "size": "WxH", "response_format": "url",
"watermark": false}`; the answer lists `data[].url` (signed, expiring: downloaded at once, without
our key) or `data[].error` for an image that was not made. A content refusal is an HTTP 400 whose
`error.code` names sensitive content (InputTextSensitiveContentDetected,
InputImageSensitiveContentDetected, OutputImageSensitiveContentDetected, …): `safety`, not
retried. The call is synchronous; 429 and 5xx are retried by the client.

`size`: each model family accepts a pixel count in a range and an aspect ratio within 1:16–16:1;
we ask for the project's aspect at its size, scaled into the model's range.
"""

import json
import math
import re
import uuid
from pathlib import Path

from django.conf import settings

from pipeline.providers import ProviderClient, ProviderError

from .images import image_data_url, image_from_file

# Model id prefix → (least, most) pixels a "WxH" size may have.
SIZE_LIMITS = (
    ("seedream-4-5", 2560 * 1440, 4096 * 4096),
    ("seedream-4-0", 1024 * 1024, 4096 * 4096),
    ("seedream-3-0", 512 * 512, 2048 * 2048),
)
DEFAULT_LIMITS = (1024 * 1024, 4096 * 4096)
SIZE_STEP = 16
_CODE = re.compile(r'"code"\s*:\s*"([A-Za-z0-9_.]+)"')


def seedream_pixel_limits(model: str) -> tuple[int, int]:
    for prefix, least, most in SIZE_LIMITS:
        if model.startswith(prefix):
            return least, most
    return DEFAULT_LIMITS


def seedream_size(width: int, height: int, model: str) -> str:
    """A "WxH" of width:height's aspect (1:16–16:1) that `model` accepts, at least as large as
    asked when the model allows it; sides are multiples of 16."""
    least, most = seedream_pixel_limits(model)
    ratio = min(16.0, max(1 / 16, width / height))
    pixels = min(most, max(least, width * height))
    w = math.sqrt(pixels * ratio)
    h = w / ratio
    w, h = max(SIZE_STEP, round(w / SIZE_STEP) * SIZE_STEP), max(SIZE_STEP, round(h / SIZE_STEP) * SIZE_STEP)
    while w * h < least:
        w, h = (w + SIZE_STEP, h) if w / h < ratio else (w, h + SIZE_STEP)
    while w * h > most:
        w, h = (w - SIZE_STEP, h) if w / h > ratio else (w, h - SIZE_STEP)
    return f"{w}x{h}"


def seedream_safety_code(code: str) -> bool:
    return "SensitiveContent" in code or "RiskDetection" in code


class SeedreamClient(ProviderClient):
    def __init__(self, *, attempts: int = 3):
        super().__init__("Seedream", settings.SEEDREAM_BASE_URL, {"Authorization": f"Bearer {settings.SEEDREAM_API_KEY}"},
                         timeout=settings.IMAGE_PROVIDER_TIMEOUT_SECONDS, attempts=attempts)

    def generate(self, body: dict) -> dict:
        try:
            return self.request("POST", "/api/v3/images/generations", json=body)
        except ProviderError as exc:
            code = _error_code(exc.detail)
            if exc.status_code == 400 and code and seedream_safety_code(code):
                raise ProviderError(f"Seedream declined to make this image ({code}).", "safety",
                                    status_code=exc.status_code, detail=exc.detail) from exc
            raise


def _error_code(detail: str) -> str:
    try:
        error = json.loads(detail).get("error") or {}
        return str(error.get("code") or "")
    except (ValueError, AttributeError):
        match = _CODE.search(detail or "")  # the detail is cut at a few hundred characters
        return match.group(1) if match else ""


def seedream_request_body(*, prompt: str, images: list[Path], width: int, height: int) -> dict:
    body = {
        "model": settings.SEEDREAM_MODEL,
        "prompt": prompt,
        "size": seedream_size(width, height, settings.SEEDREAM_MODEL),
        "response_format": "url",
        "watermark": False,
    }
    if images:
        body["image"] = [image_data_url(path) for path in images]
        body["sequential_image_generation"] = "disabled"  # one image, whatever the inputs
    return body


def seedream_generate_image(*, prompt: str, images: list[Path], width: int, height: int, out: Path) -> Path:
    """One image from Seedream, downloaded at once and written as a clean PNG at `out`; its path.

    Raises ProviderError: `safety` for a sensitive-content refusal, `provider_output` for an
    answer without a usable image, or as the client classifies the HTTP failure.
    """
    with SeedreamClient() as client:
        answer = client.generate(seedream_request_body(prompt=prompt, images=images, width=width, height=height))
        items = answer.get("data") if isinstance(answer, dict) else None
        if not isinstance(items, list) or not items:
            raise ProviderError("Seedream answered without images.", "provider_output")
        item = items[0] if isinstance(items[0], dict) else {}
        if not isinstance(item.get("url"), str):
            error = item.get("error") if isinstance(item.get("error"), dict) else {}
            code = str(error.get("code") or "")
            if seedream_safety_code(code):
                raise ProviderError(f"Seedream declined to make this image ({code}).", "safety")
            raise ProviderError(f"Seedream answered without an image URL{f' ({code})' if code else ''}.",
                                "provider_output")
        download = Path(out).with_name(f"seedream-{uuid.uuid4().hex}.download")
        client.download(item["url"], download, max_bytes=settings.PROVIDER_MAX_OUTPUT_BYTES)
    checked = image_from_file(download, provider="Seedream")
    return checked.replace(out)
