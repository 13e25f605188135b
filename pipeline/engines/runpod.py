"""RunPod serverless engine ("runpod") for text_to_3d and scad_render, through the provider client.

Protocol (https://docs.runpod.io/serverless/endpoints/operations): `POST /{endpoint}/run`
with `{"input": …}` answers `{"id", "status"}`; `GET /{endpoint}/status/{id}` answers
`status` IN_QUEUE | IN_PROGRESS | COMPLETED | FAILED | CANCELLED | TIMED_OUT with `output` or
`error`; `POST /{endpoint}/cancel/{id}`; `GET /{endpoint}/health`. Our worker image answers
`output = {"outputs": [{"type": "glb", "url": …, "primary": true?}, …], "mesh": {…}}` with any
of the types in OUTPUT_TYPES (meshes, images, video, audio, SCAD, JSON); a kind that expects a
mesh still fails without one. Provider URLs expire, so each file is copied into our storage at
once. The RunPod id is stored before polling: a rerun after a worker death resumes the same
remote job instead of paying for a second one, and `/run` is never resubmitted when RunPod may
have acted on it (see `pipeline.providers`).
"""

import logging
import time
from pathlib import PurePosixPath
from urllib.parse import urlsplit

from django.conf import settings

from ..providers import ProviderClient, ProviderError
from . import EngineError, register
from .scad.engine import ScadRenderLocal, TextTo3DLocal

logger = logging.getLogger(__name__)

# The worker's output type → (our asset type, content type).
OUTPUT_TYPES = {
    "glb": ("glb", "model/gltf-binary"),
    "stl": ("stl", "model/stl"),
    "ply": ("ply", "application/octet-stream"),
    "obj": ("obj", "model/obj"),
    "png": ("png", "image/png"),
    "jpg": ("jpg", "image/jpeg"),
    "jpeg": ("jpg", "image/jpeg"),
    "webp": ("webp", "image/webp"),
    "mp4": ("mp4", "video/mp4"),
    "wav": ("wav", "audio/wav"),
    "scad": ("scad", "text/plain"),
    "json": ("json", "application/json"),
}
MESH_TYPES = {"glb", "stl", "ply", "obj"}
MAX_OUTPUTS = 32


class RunPodClient(ProviderClient):
    """RunPod serverless: `/run`, `/status/{id}`, `/cancel/{id}`, `/health` of the endpoint.

    `authorization` is the header's value: `Bearer <key>` as RunPod documents it (default), or the
    bare key, as seed 001's design chat sends it (`authorization: <key>`); RunPod takes both."""

    def __init__(self, *, attempts: int = 3, authorization: str | None = None):
        super().__init__(
            "RunPod", f"{settings.RUNPOD_BASE_URL.rstrip('/')}/{settings.RUNPOD_ENDPOINT_ID}",
            {"Authorization": authorization or f"Bearer {settings.RUNPOD_API_KEY}"}, timeout=20, attempts=attempts,
        )

    def run(self, payload: dict) -> dict:
        return self.request("POST", "/run", once=True, json={"input": payload})

    def status(self, runpod_id: str) -> dict:
        return self.request("GET", f"/status/{runpod_id}")

    def cancel(self, runpod_id: str) -> dict:
        return self.request("POST", f"/cancel/{runpod_id}")

    def health(self) -> dict:
        return self.request("GET", "/health")


def runpod_outputs(output: dict) -> list[dict]:
    """The files a worker listed, as {asset_type, content_type, url, primary}; unknown types are
    left out (and logged): a worker newer than this server may list more than it knows."""
    files = []
    for item in (output.get("outputs") or [])[:MAX_OUTPUTS]:
        if not isinstance(item, dict) or not isinstance(item.get("url"), str):
            continue
        kind = str(item.get("type") or PurePosixPath(urlsplit(item["url"]).path).suffix.lstrip(".")).lower()
        if kind not in OUTPUT_TYPES:
            logger.warning("RunPod output of unknown type %r left out", kind)
            continue
        asset_type, content_type = OUTPUT_TYPES[kind]
        files.append({"asset_type": asset_type, "content_type": content_type, "url": item["url"],
                      "primary": item.get("primary") is True})
    return files


class _RunPodMixin:
    name = "runpod"
    expects_mesh = False

    def is_configured(self) -> bool:
        return bool(settings.RUNPOD_API_KEY and settings.RUNPOD_ENDPOINT_ID)

    def run(self, ctx) -> dict:
        ctx.stage("processing")
        with RunPodClient() as client:
            return self._run(ctx, client)

    def _cancel_remote(self, client: RunPodClient, runpod_id: str) -> None:
        try:
            client.cancel(runpod_id)
        except ProviderError:
            logger.warning("RunPod job %s could not be cancelled", runpod_id, exc_info=True)

    def _wait(self, ctx, client: RunPodClient, runpod_id: str) -> dict:
        from pipeline.services import JobAborted

        deadline = time.monotonic() + settings.RUNPOD_TIMEOUT_SECONDS
        try:
            while True:
                state = client.status(runpod_id)
                status = state.get("status")
                if status == "COMPLETED":
                    return state
                if status in {"FAILED", "CANCELLED", "TIMED_OUT"}:
                    kind = "provider_timeout" if status == "TIMED_OUT" else "provider_failed"
                    detail = str(state.get("error") or "no detail")[:500]
                    raise EngineError(f"RunPod job {status.lower()}: {detail}", error_type=kind)
                if time.monotonic() > deadline:
                    self._cancel_remote(client, runpod_id)
                    raise EngineError("RunPod did not finish in time.", error_type="timeout")
                ctx.progress(20 if status == "IN_PROGRESS" else 10, str(status or "waiting").lower())
                time.sleep(settings.RUNPOD_POLL_SECONDS)
        except JobAborted:
            self._cancel_remote(client, runpod_id)  # cancelled here: stop paying for the remote job too
            raise

    def _primary(self, ctx, files: list[dict]) -> dict:
        if self.expects_mesh:
            wanted = ctx.params.get("output_format", "glb")
            return next((f for f in files if f["asset_type"] == wanted), None) or next(f for f in files if f["asset_type"] in MESH_TYPES)
        return next((f for f in files if f["primary"]), files[0])

    def _run(self, ctx, client: RunPodClient) -> dict:
        runpod_id = ctx.job.provider_job_id
        if not runpod_id:
            answer = client.run({"action": self.kind, **ctx.params})
            runpod_id = str(answer.get("id") or "")
            if not runpod_id:
                raise ProviderError("RunPod accepted the job without giving its id.", "provider_output")
            ctx.provider_job_set(runpod_id)
            ctx.log(f"RunPod job {runpod_id} submitted")
        state = self._wait(ctx, client, runpod_id)
        output = state.get("output") or {}
        if not isinstance(output, dict):
            raise ProviderError("RunPod answered with an output we cannot read.", "provider_output")
        files = runpod_outputs(output)
        if not files:
            raise ProviderError("RunPod answered without outputs.", "provider_output")
        if self.expects_mesh and not any(f["asset_type"] in MESH_TYPES for f in files):
            raise ProviderError("RunPod answered without a mesh.", "provider_output")
        primary = self._primary(ctx, files)
        ctx.progress(70, "copying outputs")
        outputs = [
            ctx.output_from_url(client, f["url"], f["asset_type"], f is primary, f["content_type"],
                                max_bytes=settings.RUNPOD_MAX_OUTPUT_BYTES)
            for f in files
        ]
        result = {"provider": "runpod", "runpod_id": runpod_id, "outputs": outputs}
        if self.expects_mesh:
            result.update(mesh=output.get("mesh") or {}, output_format=primary["asset_type"])
        return result


class TextTo3DRunPod(_RunPodMixin, TextTo3DLocal):
    expects_mesh = True


class ScadRenderRunPod(_RunPodMixin, ScadRenderLocal):
    expects_mesh = True


register(TextTo3DRunPod())
register(ScadRenderRunPod())
