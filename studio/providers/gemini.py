"""Google Gemini image generation ("nano banana"), over the provider client.

Protocol (https://ai.google.dev/gemini-api/docs/image-generation):
`POST {GEMINI_BASE_URL}/v1beta/models/{model}:generateContent` with the key in `x-goog-api-key`
and `{"contents": [{"parts": [{"text"}, {"inline_data": {"mime_type", "data"}}, …]}],
"generationConfig": {"responseModalities": ["TEXT", "IMAGE"], "imageConfig": {"aspectRatio"}}}`.
The images come back as `inlineData {mimeType, data}` parts of `candidates[0].content` (the REST
API writes camelCase; snake_case is accepted too). A refusal is a 200: a candidate ending with a
safety `finishReason`, or no candidate and `promptFeedback.blockReason`; it fails the job as
`safety` and is not retried. 429 and 5xx are retried by the client; generateContent is
synchronous and a failed call produces nothing to pay for, so it may be repeated.
"""

import math
from pathlib import Path

from django.conf import settings

from pipeline.providers import ProviderClient, ProviderError

from .images import image_encoded, image_from_base64

# The ratios imageConfig.aspectRatio accepts.
ASPECT_RATIOS = ("1:1", "2:3", "3:2", "3:4", "4:3", "4:5", "5:4", "9:16", "16:9", "21:9")
# finishReason values that mean the content was refused (not a failure worth retrying).
SAFETY_FINISH_REASONS = {"SAFETY", "IMAGE_SAFETY", "PROHIBITED_CONTENT", "IMAGE_PROHIBITED_CONTENT", "BLOCKLIST",
                         "SPII"}


def aspect_ratio_nearest(width: int, height: int) -> str:
    """The supported ratio closest to width:height (compared on a log scale, so 2:1 and 1:2 are
    as far from 1:1)."""
    wanted = math.log(width / height)

    def distance(ratio: str) -> float:
        w, h = ratio.split(":")
        return abs(math.log(int(w) / int(h)) - wanted)

    return min(ASPECT_RATIOS, key=distance)


class GeminiClient(ProviderClient):
    def __init__(self, *, attempts: int = 3):
        super().__init__("Gemini", settings.GEMINI_BASE_URL, {"x-goog-api-key": settings.GEMINI_API_KEY},
                         timeout=settings.IMAGE_PROVIDER_TIMEOUT_SECONDS, attempts=attempts)

    def generate_content(self, body: dict) -> dict:
        return self.request("POST", f"/v1beta/models/{settings.GEMINI_IMAGE_MODEL}:generateContent", json=body)


def gemini_request_body(*, prompt: str, images: list[Path], aspect_ratio: str) -> dict:
    parts: list[dict] = [{"text": prompt}]
    for path in images:
        mime, data = image_encoded(path)
        parts.append({"inline_data": {"mime_type": mime, "data": data}})
    return {
        "contents": [{"role": "user", "parts": parts}],
        "generationConfig": {"responseModalities": ["TEXT", "IMAGE"], "imageConfig": {"aspectRatio": aspect_ratio}},
    }


def _refusal(answer: dict) -> str | None:
    """Why Gemini refused the request, if it did."""
    feedback = answer.get("promptFeedback")
    if isinstance(feedback, dict) and feedback.get("blockReason"):
        return f"the request was blocked ({feedback['blockReason']})"
    candidates = answer.get("candidates")
    if isinstance(candidates, list) and candidates and isinstance(candidates[0], dict):
        reason = str(candidates[0].get("finishReason") or "")
        if reason in SAFETY_FINISH_REASONS:
            return f"the image was refused ({reason})"
    return None


def gemini_image_parts(answer: dict) -> list[dict]:
    """The image parts of the first candidate, as {mime, data}."""
    candidates = answer.get("candidates")
    if not isinstance(candidates, list) or not candidates or not isinstance(candidates[0], dict):
        return []
    content = candidates[0].get("content")
    parts = content.get("parts") if isinstance(content, dict) else None
    images = []
    for part in parts if isinstance(parts, list) else []:
        inline = (part.get("inlineData") or part.get("inline_data")) if isinstance(part, dict) else None
        if isinstance(inline, dict):
            mime = str(inline.get("mimeType") or inline.get("mime_type") or "")
            if mime.startswith("image/"):
                images.append({"mime": mime, "data": inline.get("data")})
    return images


def gemini_generate_image(*, prompt: str, images: list[Path], aspect_ratio: str, out: Path) -> Path:
    """One image from Gemini for `prompt` and the input `images`, written to `out` as PNG; its path.

    Raises ProviderError: `safety` for a refusal, `provider_output` for an answer without a usable
    image, or as the client classifies the HTTP failure.
    """
    with GeminiClient() as client:
        answer = client.generate_content(gemini_request_body(prompt=prompt, images=images, aspect_ratio=aspect_ratio))
    if not isinstance(answer, dict):
        raise ProviderError("Gemini answered with JSON we cannot read.", "provider_output")
    refusal = _refusal(answer)
    if refusal:
        raise ProviderError(f"Gemini declined to make this image: {refusal}.", "safety")
    found = gemini_image_parts(answer)
    if not found:
        candidates = answer.get("candidates")
        reason = candidates[0].get("finishReason") if isinstance(candidates, list) and candidates and isinstance(
            candidates[0], dict) else None
        raise ProviderError(f"Gemini answered without an image (finishReason {reason or 'missing'}).",
                            "provider_output")
    return image_from_base64(found[0]["data"], out, provider="Gemini")
