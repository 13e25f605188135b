"""Moderation of job inputs, run while a job is `validating`.

Default: a local rule set (offline, deterministic). With `MODERATION_BACKEND=openai`, OpenAI's
moderation endpoint (`omni-moderation-latest`) decides; a failing remote call fails the job
(`error_type=moderation_unavailable`) rather than letting unchecked input through.
"""

import re
import time
from dataclasses import dataclass, field

import httpx
from django.conf import settings

from mozukai_hub.api.errors import ApplicationError

OPENAI_MODEL = "omni-moderation-latest"

# Each category: whole-word patterns. Kept short and specific to what this product generates.
LOCAL_RULES: dict[str, list[str]] = {
    "weapons": [r"guns?", r"firearms?", r"pistols?", r"rifles?", r"suppressors?", r"silencers?", r"lower receivers?",
                r"ghost guns?", r"bombs?", r"grenades?", r"explosives?"],
    "sexual/minors": [r"child porn\w*", r"cp", r"underage (?:sex|nude)\w*"],
    "hate": [r"nazi", r"swastikas?", r"kkk"],
    "self-harm": [r"suicide (?:kit|method)s?", r"noose for (?:me|myself)"],
    "violence": [r"kill (?:him|her|them|people)", r"torture devices?"],
}
_COMPILED = {cat: re.compile(r"\b(?:%s)\b" % "|".join(pats), re.IGNORECASE) for cat, pats in LOCAL_RULES.items()}


@dataclass
class Verdict:
    flagged: bool
    categories: list[str] = field(default_factory=list)


class ModerationUnavailable(ApplicationError):
    status_code = 503
    code = "moderation_unavailable"


def moderate_text_local(text: str) -> Verdict:
    hits = [cat for cat, rx in _COMPILED.items() if rx.search(text or "")]
    return Verdict(flagged=bool(hits), categories=hits)


def moderate_text_openai(text: str, *, attempts: int = 3) -> Verdict:
    """POST /moderations; retries only 429 and 5xx, a few times, with a short backoff."""
    url = settings.OPENAI_BASE_URL.rstrip("/") + "/moderations"
    headers = {"Authorization": f"Bearer {settings.OPENAI_API_KEY}"}
    last_error = ""
    for attempt in range(attempts):
        try:
            response = httpx.post(url, json={"model": OPENAI_MODEL, "input": text}, headers=headers, timeout=15)
        except httpx.HTTPError as exc:
            last_error = f"{type(exc).__name__}: {exc}"
        else:
            if response.status_code == 200:
                result = response.json()["results"][0]
                categories = sorted(name for name, hit in (result.get("categories") or {}).items() if hit)
                return Verdict(flagged=bool(result.get("flagged")), categories=categories)
            last_error = f"HTTP {response.status_code}"
            if response.status_code != 429 and response.status_code < 500:
                break
        time.sleep(0.2 * (2**attempt))
    raise ModerationUnavailable(f"Moderation service failed: {last_error}")


def moderate_text(text: str) -> Verdict:
    if not (text or "").strip():
        return Verdict(flagged=False)
    if settings.MODERATION_BACKEND == "openai":
        return moderate_text_openai(text)
    return moderate_text_local(text)


def moderate_job(*, job) -> Verdict:
    texts = [str(job.params.get(key, "")) for key in ("prompt", "text", "headline", "subtext") if job.params.get(key)]
    return moderate_text("\n".join(texts))
