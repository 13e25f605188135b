"""fal's queue API, over the provider client: `fal_queue_run` for any fal model (thumbnails here,
image-to-video scenes in films).

Protocol (https://docs.fal.ai/model-apis/model-endpoints/queue): `POST {FAL_QUEUE_URL}/{model}`
with `Authorization: Key <FAL_KEY>` and the model's arguments as the JSON body answers
`{request_id, status_url, response_url, cancel_url}`; `GET status_url` answers `status`
IN_QUEUE | IN_PROGRESS | COMPLETED (with `error` when the run failed); `GET response_url` answers
the model's output (images as `images[].url`, a video as `video.url`); `PUT cancel_url` cancels.
The status, response and cancel URLs use the model's app id (`owner/app`, without a sub-path).

The submit is a paid create: it is never resubmitted when fal may have acted on it (see
`pipeline.providers`), and the request id is stored on the job (`ctx.provider_job_set`) before
waiting, so a rerun after a worker death resumes the same request instead of paying twice. A job
may make several fal calls (a film's scenes): the stored value is `<request_id>#<digest>`, the
digest naming the call (model and arguments), and only the call it names is resumed.
"""

import hashlib
import json
import logging
import time

from django.conf import settings

from pipeline.engines import EngineError
from pipeline.providers import ProviderClient, ProviderError

logger = logging.getLogger(__name__)

WAITING = {"IN_QUEUE", "IN_PROGRESS"}
ENDED_BADLY = {"FAILED", "CANCELED", "CANCELLED", "ERROR"}
SAFETY_ERROR_TYPES = {"content_policy_violation", "nsfw_content_detected"}
DIGEST_CHARS = 16


class FalClient(ProviderClient):
    def __init__(self, *, attempts: int = 3):
        super().__init__("fal", settings.FAL_QUEUE_URL, {"Authorization": f"Key {settings.FAL_KEY}"},
                         timeout=30, attempts=attempts)

    def submit(self, model: str, arguments: dict) -> dict:
        return self.request("POST", f"/{model.strip('/')}", once=True, json=arguments)

    def status(self, status_url: str) -> dict:
        return self.request("GET", status_url)

    def result(self, response_url: str) -> dict:
        try:
            return self.request("GET", response_url)
        except ProviderError as exc:
            if exc.status_code == 422 and _safety_detail(exc.detail):
                raise ProviderError("fal declined to make this (content policy).", "safety",
                                    status_code=exc.status_code, detail=exc.detail) from exc
            raise

    def cancel(self, cancel_url: str) -> None:
        try:
            self.request("PUT", cancel_url)
        except ProviderError:
            # Already completed (400) or gone (404): nothing is left running to pay for.
            logger.warning("fal request at %s could not be cancelled", cancel_url, exc_info=True)


def _safety_detail(detail: str) -> bool:
    return any(kind in (detail or "") for kind in SAFETY_ERROR_TYPES)


def fal_app_id(model: str) -> str:
    """`owner/app` of a model id (`fal-ai/flux/dev` → `fal-ai/flux`), as the queue's request URLs use it."""
    return "/".join(model.strip("/").split("/")[:2])


def fal_request_urls(model: str, request_id: str) -> dict:
    base = f"{settings.FAL_QUEUE_URL.rstrip('/')}/{fal_app_id(model)}/requests/{request_id}"
    return {"request_id": request_id, "status_url": f"{base}/status", "response_url": base,
            "cancel_url": f"{base}/cancel"}


def fal_call_digest(model: str, arguments: dict) -> str:
    canonical = json.dumps({"model": model, "arguments": arguments}, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()[:DIGEST_CHARS]


def _stored_request(ctx, model: str, digest: str) -> str | None:
    """The request id a previous run of this job stored for this very call, if any."""
    stored = ctx.job.provider_job_id or ""
    request_id, _, stored_digest = stored.partition("#")
    return request_id if request_id and stored_digest == digest else None


def _submit(ctx, client: FalClient, model: str, arguments: dict, digest: str) -> dict:
    answer = client.submit(model, arguments)
    request_id = str(answer.get("request_id") or "") if isinstance(answer, dict) else ""
    if not request_id:
        raise ProviderError("fal accepted the request without giving its id.", "provider_output")
    urls = fal_request_urls(model, request_id)
    for name in ("status_url", "response_url", "cancel_url"):
        if isinstance(answer.get(name), str) and answer[name].startswith(("http://", "https://")):
            urls[name] = answer[name]
    ctx.provider_job_set(f"{request_id}#{digest}")
    ctx.log(f"fal request {request_id} submitted to {model}")
    return urls


def _wait(ctx, client: FalClient, urls: dict, timeout_seconds: float, first: dict | None = None) -> None:
    from pipeline.services import JobAborted

    deadline = time.monotonic() + timeout_seconds
    state = first
    try:
        while True:
            if state is None:
                state = client.status(urls["status_url"])
            if not isinstance(state, dict):
                raise ProviderError("fal answered a status we cannot read.", "provider_output")
            status = str(state.get("status") or "")
            if status == "COMPLETED":
                if state.get("error"):
                    kind = "safety" if state.get("error_type") in SAFETY_ERROR_TYPES else "provider_failed"
                    raise EngineError(f"fal request failed: {str(state['error'])[:500]}", error_type=kind)
                return
            if status in ENDED_BADLY:
                raise EngineError(f"fal request ended {status.lower()}: {str(state.get('error') or 'no detail')[:500]}",
                                  error_type="provider_failed")
            if time.monotonic() > deadline:
                client.cancel(urls["cancel_url"])
                raise EngineError(f"fal did not finish in {timeout_seconds:.0f} s.", error_type="timeout")
            ctx.checkpoint()
            time.sleep(settings.FAL_POLL_SECONDS)
            ctx.checkpoint()
            state = None
    except JobAborted:
        if _job_ended(ctx):
            client.cancel(urls["cancel_url"])  # cancelled here: stop paying for the remote run too
        raise


def _job_ended(ctx) -> bool:
    """Whether the job was cancelled or ended (then its fal request is cancelled too), rather than
    taken over by another worker after a lost lease (which resumes the same request)."""
    from pipeline.models import Job
    from pipeline.transitions import TERMINAL

    status = Job.objects.filter(pk=ctx.job.pk).values_list("status", flat=True).first()
    return status is None or status in TERMINAL


def fal_queue_run(ctx, *, model: str, arguments: dict, timeout_seconds: float | None = None) -> dict:
    """Run `model` with `arguments` through fal's queue and return its output (the response body).

    Submits (or resumes the request this job already stored for the same call), waits while
    checking for cancellation every FAL_POLL_SECONDS (a cancelled job cancels the fal request),
    and fetches the result. Raises ProviderError / EngineError, classified (`safety` for a
    content-policy refusal), and JobAborted when the job was cancelled.
    """
    digest = fal_call_digest(model, arguments)
    timeout_seconds = timeout_seconds or settings.FAL_TIMEOUT_SECONDS
    with FalClient() as client:
        urls, first = None, None
        request_id = _stored_request(ctx, model, digest)
        if request_id:
            urls = fal_request_urls(model, request_id)
            try:
                first = client.status(urls["status_url"])
                ctx.log(f"fal request {request_id} resumed")
            except ProviderError as exc:
                if exc.status_code != 404:
                    raise
                urls = None  # fal has no such request any more: nothing runs, so submitting is safe
        if urls is None:
            urls = _submit(ctx, client, model, arguments, digest)
        _wait(ctx, client, urls, timeout_seconds, first)
        result = client.result(urls["response_url"])
    if not isinstance(result, dict):
        raise ProviderError("fal answered with a result we cannot read.", "provider_output")
    return result


def fal_image_urls(result: dict) -> list[str]:
    """The image URLs of an image model's output; `safety` when fal's safety checker blanked them."""
    flagged = result.get("has_nsfw_concepts")
    if isinstance(flagged, list) and any(flag is True for flag in flagged):
        raise ProviderError("fal's safety checker refused the image.", "safety")
    images = result.get("images")
    urls = [item["url"] for item in images if isinstance(item, dict) and isinstance(item.get("url"), str)] \
        if isinstance(images, list) else []
    if not urls:
        raise ProviderError("fal answered without images.", "provider_output")
    return urls


def fal_video_url(result: dict) -> str:
    """The video URL of a video model's output (`video.url`)."""
    video = result.get("video")
    if isinstance(video, dict) and isinstance(video.get("url"), str):
        return video["url"]
    raise ProviderError("fal answered without a video.", "provider_output")
