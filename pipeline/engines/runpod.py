"""RunPod serverless engine ("runpod") for text_to_3d and scad_render.

Protocol (https://docs.runpod.io/serverless/endpoints/operations): `POST /{endpoint}/run`
with `{"input": …}` answers `{"id", "status"}`; `GET /{endpoint}/status/{id}` answers
`status` IN_QUEUE | IN_PROGRESS | COMPLETED | FAILED | CANCELLED | TIMED_OUT with `output` or
`error`; `POST /{endpoint}/cancel/{id}`; `GET /{endpoint}/health`. Our worker image answers
`output = {"outputs": [{"type": "glb"|"stl"|"scad", "url": …}], "mesh": {…}}`; provider URLs
expire, so each file is copied into our storage. The RunPod id is stored before polling: a
rerun after a worker death resumes the same remote job instead of paying for a second one.
"""

import time

import httpx
from django.conf import settings

from . import EngineError, register
from .scad.engine import ScadRenderLocal, TextTo3DLocal

RETRYABLE = {429, 500, 502, 503, 504}
CONTENT_TYPES = {"glb": "model/gltf-binary", "stl": "model/stl", "scad": "text/plain"}


class RunPodClient:
    def __init__(self, *, attempts: int = 3):
        self.base = f"{settings.RUNPOD_BASE_URL.rstrip('/')}/{settings.RUNPOD_ENDPOINT_ID}"
        self.attempts = attempts
        self.http = httpx.Client(headers={"Authorization": f"Bearer {settings.RUNPOD_API_KEY}"}, timeout=httpx.Timeout(20.0))

    def close(self):
        self.http.close()

    def _call(self, method: str, path: str, *, once: bool = False, **kwargs) -> dict:
        """Bounded retries on 429/5xx and network errors only; other failures are classified.

        `once`: the call starts something that costs money (`/run`). It is retried only when
        RunPod surely did not act on it: the connection was never made, or a 429 refused it. A
        5xx or a lost answer may have started a remote job, and a second submission would start
        (and bill) another one, so those fail the job instead.
        """
        last = ""
        for attempt in range(self.attempts):
            try:
                response = self.http.request(method, f"{self.base}{path}", **kwargs)
            except httpx.HTTPError as exc:
                last = f"{type(exc).__name__}"
                if once and not isinstance(exc, (httpx.ConnectError, httpx.ConnectTimeout)):
                    break
            else:
                if response.status_code < 300:
                    return response.json()
                if response.status_code in (401, 403):
                    raise EngineError("RunPod refused our API key.", error_type="provider_auth")
                if response.status_code not in RETRYABLE:
                    raise EngineError(f"RunPod rejected the request (HTTP {response.status_code}).", error_type="provider_rejected")
                last = f"HTTP {response.status_code}"
                if once and response.status_code != 429:
                    break
            if attempt + 1 < self.attempts:
                time.sleep(min(4.0, 0.25 * 2**attempt))
        raise EngineError(f"RunPod is unavailable ({last}).", error_type="provider_unavailable")

    def run(self, payload: dict) -> dict:
        return self._call("POST", "/run", once=True, json={"input": payload})

    def status(self, runpod_id: str) -> dict:
        return self._call("GET", f"/status/{runpod_id}")

    def cancel(self, runpod_id: str) -> dict:
        return self._call("POST", f"/cancel/{runpod_id}")

    def health(self) -> dict:
        return self._call("GET", "/health")

    def download(self, url: str, path) -> int:
        size = 0
        with httpx.stream("GET", url, timeout=60.0, follow_redirects=True) as response:
            if response.status_code != 200:
                raise EngineError(f"Could not fetch a RunPod output (HTTP {response.status_code}).", error_type="provider_output")
            with open(path, "wb") as handle:
                for chunk in response.iter_bytes():
                    size += len(chunk)
                    if size > settings.RUNPOD_MAX_OUTPUT_BYTES:
                        raise EngineError("A RunPod output is larger than allowed.", error_type="provider_output")
                    handle.write(chunk)
        return size


class _RunPodMixin:
    name = "runpod"

    def is_configured(self) -> bool:
        return bool(settings.RUNPOD_API_KEY and settings.RUNPOD_ENDPOINT_ID)

    def run(self, ctx) -> dict:
        ctx.stage("processing")
        client = RunPodClient()
        try:
            return self._run(ctx, client)
        finally:
            client.close()

    def _run(self, ctx, client: RunPodClient) -> dict:
        from pipeline.services import JobAborted, job_provider_job_set

        runpod_id = ctx.job.provider_job_id
        if not runpod_id:
            answer = client.run({"action": self.kind, **ctx.params})
            runpod_id = answer["id"]
            job_provider_job_set(job_id=ctx.job.pk, lease_token=ctx.lease_token, provider_job_id=runpod_id)
            ctx.log(f"RunPod job {runpod_id} submitted")
        deadline = time.monotonic() + settings.RUNPOD_TIMEOUT_SECONDS
        try:
            while True:
                state = client.status(runpod_id)
                status = state.get("status")
                if status == "COMPLETED":
                    break
                if status in {"FAILED", "CANCELLED", "TIMED_OUT"}:
                    kind = "provider_timeout" if status == "TIMED_OUT" else "provider_failed"
                    raise EngineError(f"RunPod job {status.lower()}: {state.get('error') or 'no detail'}", error_type=kind)
                if time.monotonic() > deadline:
                    client.cancel(runpod_id)
                    raise EngineError("RunPod did not finish in time.", error_type="timeout")
                ctx.progress(20 if status == "IN_PROGRESS" else 10, status.lower() if status else "waiting")
                time.sleep(settings.RUNPOD_POLL_SECONDS)
        except JobAborted:
            client.cancel(runpod_id)  # cancelled here: stop paying for the remote job too
            raise
        output = state.get("output") or {}
        files = [item for item in output.get("outputs") or [] if item.get("type") in CONTENT_TYPES and item.get("url")]
        if not any(item["type"] in {"glb", "stl"} for item in files):
            raise EngineError("RunPod answered without a mesh.", error_type="provider_output")
        ctx.progress(70, "copying outputs")
        primary_type = ctx.params.get("output_format", "glb")
        outputs = []
        for item in files:
            path = ctx.workdir / f"output.{item['type']}"
            client.download(item["url"], path)
            ctx.checkpoint()
            outputs.append(ctx.output(path=path, asset_type=item["type"], primary=item["type"] == primary_type,
                                      content_type=CONTENT_TYPES[item["type"]]))
        return {"provider": "runpod", "runpod_id": runpod_id, "mesh": output.get("mesh") or {}, "outputs": outputs,
                "output_format": primary_type}


class TextTo3DRunPod(_RunPodMixin, TextTo3DLocal):
    pass


class ScadRenderRunPod(_RunPodMixin, ScadRenderLocal):
    pass


register(TextTo3DRunPod())
register(ScadRenderRunPod())
