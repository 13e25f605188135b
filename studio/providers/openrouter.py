"""OpenRouter image editing for the photo generator (photo_style engine "openrouter").

Protocol (https://openrouter.ai/docs/features/multimodal/image-generation): `POST
{OPENROUTER_BASE_URL}/chat/completions` with `Authorization: Bearer <key>` and `{"model",
"modalities": ["image", "text"], "messages": [{"role": "user", "content": [{"type": "text"},
{"type": "image_url", "image_url": {"url": <data URL>}}]}]}`; the image comes back as a data URL in
`choices[0].message.images[].image_url.url`. Some failures arrive in a 200: an `error` object
(in the body or in the choice), a `content_filter` finish, or a reply with no image; each fails
the job (and the pipeline returns its credit). A 403 whose error says the input was flagged by
moderation is `safety`. The call is synchronous; 429 and 5xx are retried by the client.
"""

import uuid
from pathlib import Path

from django.conf import settings

from pipeline.providers import ProviderClient, ProviderError

from .images import image_data_url, image_from_data_url, image_from_file
from .prompts import photo_style_prompt

# Finish reasons (OpenRouter's, and the upstream model's native ones) that mean a refusal.
SAFETY_FINISH_REASONS = {"content_filter", "SAFETY", "IMAGE_SAFETY", "PROHIBITED_CONTENT", "IMAGE_PROHIBITED_CONTENT",
                         "BLOCKLIST", "SPII"}
_FLAGGED_WORDS = ("flagged", "moderation")


class OpenRouterClient(ProviderClient):
    def __init__(self, *, attempts: int = 3):
        super().__init__(
            "OpenRouter", settings.OPENROUTER_BASE_URL,
            {"Authorization": f"Bearer {settings.OPENROUTER_API_KEY}", "X-Title": "Mozukai Hub"},
            timeout=settings.IMAGE_PROVIDER_TIMEOUT_SECONDS, attempts=attempts,
        )

    def chat(self, body: dict) -> dict:
        try:
            return self.request("POST", "/chat/completions", json=body)
        except ProviderError as exc:
            if exc.status_code == 403 and any(word in (exc.detail or "").lower() for word in _FLAGGED_WORDS):
                raise ProviderError("OpenRouter's moderation refused this photo.", "safety",
                                    status_code=exc.status_code, detail=exc.detail) from exc
            raise


def openrouter_request_body(*, prompt: str, source: Path) -> dict:
    return {
        "model": settings.OPENROUTER_MODEL,
        "modalities": ["image", "text"],
        "messages": [{"role": "user", "content": [
            {"type": "text", "text": prompt},
            {"type": "image_url", "image_url": {"url": image_data_url(source, max_side=2048)}},
        ]}],
    }


def _error_of(error: object) -> ProviderError:
    error = error if isinstance(error, dict) else {"message": str(error)}
    message = " ".join(str(error.get("message") or "no detail").split())[:300]
    code = error.get("code")
    flagged = code == 403 or any(word in message.lower() for word in _FLAGGED_WORDS)
    return ProviderError(f"OpenRouter failed to make the image: {message}" + (f" (code {code})" if code else ""),
                         "safety" if flagged else "provider_failed")


def openrouter_image_url(answer: object) -> str:
    """The first image of the reply; ProviderError (classified) when the reply is an error or has none."""
    if not isinstance(answer, dict):
        raise ProviderError("OpenRouter answered with JSON we cannot read.", "provider_output")
    if answer.get("error"):
        raise _error_of(answer["error"])
    choices = answer.get("choices")
    choice = choices[0] if isinstance(choices, list) and choices and isinstance(choices[0], dict) else None
    if choice is None:
        raise ProviderError("OpenRouter answered without a reply.", "provider_output")
    if choice.get("error"):
        raise _error_of(choice["error"])
    message = choice.get("message") if isinstance(choice.get("message"), dict) else {}
    for image in message.get("images") or []:
        url = (image.get("image_url") or {}).get("url") if isinstance(image, dict) else None
        if isinstance(url, str) and url:
            return url
    reasons = {str(choice.get("finish_reason") or ""), str(choice.get("native_finish_reason") or "")}
    if reasons & SAFETY_FINISH_REASONS:
        raise ProviderError("OpenRouter's model refused to make this image.", "safety")
    said = " ".join(str(message.get("content") or "").split())[:200]
    raise ProviderError("OpenRouter replied without an image" + (f": {said}" if said else "."), "provider_output")


def openrouter_style_photo(*, source: Path, category: str, out: Path) -> Path:
    """The photo at `source` restyled for `category` by OpenRouter's model, as a clean PNG at `out`."""
    with OpenRouterClient() as client:
        url = openrouter_image_url(client.chat(openrouter_request_body(prompt=photo_style_prompt(category), source=source)))
        if url.startswith("data:"):
            return image_from_data_url(url, out, provider="OpenRouter")
        download = Path(out).with_name(f"openrouter-{uuid.uuid4().hex}.download")
        client.download(url, download, max_bytes=settings.PROVIDER_MAX_OUTPUT_BYTES)
    return image_from_file(download, provider="OpenRouter").replace(out)
