"""Seed 001's RunPod protocol for the design chat.

`POST {RUNPOD_BASE_URL}/{RUNPOD_ENDPOINT_ID}/run` with header `authorization: <RUNPOD_API_KEY>`
and `{"input": {"action", "prompt" (= content), "history", "requirements_json"}}` answers
`{"id", "status"}`; `GET /status/{id}` answers `status` IN_QUEUE | IN_PROGRESS | COMPLETED |
FAILED | CANCELLED | TIMED_OUT with `output` or `error`; `POST /cancel/{id}` stops it; `GET
/health` reports the workers. The id is stored on the run before waiting.

What the worker's `output` may be: for process_requirements an object with
`requirements_json` (or the requirements themselves, or that object as JSON text) and an
optional `message` to say; for generate_scad an object with `scad` (or `scad_code`), or the
SCAD as text (a ```openscad block is read out of it). Either way the answer goes through the
same checks as the local backend's: requirements are validated, SCAD is rendered with
`--hardwarnings` and its mesh checked, with one repair round.
"""

import json
import logging
import time

from django.conf import settings

from pipeline.engines.runpod import RunPodClient
from pipeline.providers import ProviderError

from .backends import assistant_error, local_design, requirements_checked
from .text import scad_from_text

logger = logging.getLogger(__name__)


def _client() -> RunPodClient:
    return RunPodClient(authorization=settings.RUNPOD_API_KEY)  # seed 001: `authorization: <key>`


class RunPodBackend:
    name = "runpod"
    repair_rounds = 1
    streams = True
    needs = "RUNPOD_API_KEY and RUNPOD_ENDPOINT_ID"

    def is_configured(self) -> bool:
        return bool(settings.RUNPOD_API_KEY and settings.RUNPOD_ENDPOINT_ID)

    def health(self) -> dict:
        try:
            with _client() as client:
                return {"status": "ready", "backend": self.name, "runpod": client.health()}
        except ProviderError as exc:
            return {"status": "unavailable", "backend": self.name, "error": str(exc), "error_type": exc.error_type}

    def _call(self, ctx, payload: dict):
        from chat.runs import RunCancelled

        try:
            with _client() as client:
                runpod_id = ctx.run.remote_id
                if not runpod_id:
                    answer = client.run(payload)
                    runpod_id = str(answer.get("id") or "")
                    if not runpod_id:
                        raise assistant_error("RunPod accepted the request without giving its id.", "provider_output")
                    ctx.remote_id_set(runpod_id)
                last = None
                try:
                    while True:
                        ctx.check()
                        state = client.status(runpod_id)
                        status = state.get("status")
                        if status == "COMPLETED":
                            return state.get("output")
                        if status in {"FAILED", "CANCELLED", "TIMED_OUT"}:
                            detail = str(state.get("error") or "no detail")[:500]
                            raise assistant_error(f"RunPod run {status.lower()}: {detail}",
                                                  "provider_timeout" if status == "TIMED_OUT" else "provider_failed")
                        if status != last:
                            ctx.progress(str(status or "waiting").lower(), f"RunPod: {status}", remote_id=runpod_id)
                            last = status
                        time.sleep(min(settings.RUNPOD_POLL_SECONDS, max(0.05, ctx.seconds_left)))
                except BaseException as exc:
                    if isinstance(exc, RunCancelled) or getattr(exc, "error_type", "") == "timeout":
                        self._cancel(client, runpod_id)
                    raise
        except ProviderError as exc:
            raise assistant_error(str(exc), exc.error_type) from exc

    def _cancel(self, client, runpod_id: str) -> None:
        try:
            client.cancel(runpod_id)
        except ProviderError:
            logger.warning("RunPod run %s could not be cancelled", runpod_id, exc_info=True)

    def requirements(self, ctx, quiet: bool = False) -> tuple[dict, int]:
        from .local import requirements_reply

        payload = {"action": "process_requirements", "prompt": ctx.content, "history": ctx.history}
        if ctx.requirements_json:
            payload["requirements_json"] = ctx.requirements_json
        output = self._call(ctx, payload)
        if isinstance(output, str):
            try:
                output = json.loads(output)
            except ValueError:
                raise assistant_error("RunPod answered requirements that are not JSON.", "provider_output")
        if not isinstance(output, dict):
            raise assistant_error("RunPod answered with an output we cannot read.", "provider_output")
        found = output.get("requirements_json") or output.get("requirements") or output
        requirements = requirements_checked(found)
        text = output.get("message") or output.get("reply")
        if not quiet:
            ctx.delta(text if isinstance(text, str) and text.strip() else requirements_reply(requirements))
        tokens = output.get("tokens")
        return requirements, tokens if isinstance(tokens, int) and tokens >= 0 else 0

    def design(self, ctx, requirements: dict, feedback: str | None = None) -> tuple[dict, int]:
        prompt = ctx.content or "Generate SCAD"
        if feedback:
            prompt = f"{prompt}\n\n{feedback}"
        ctx.run.remote_id = ""  # a repair is a new remote run
        output = self._call(ctx, {"action": "generate_scad", "prompt": prompt, "history": ctx.history,
                                  "requirements_json": requirements})
        text = output if isinstance(output, str) else None
        if isinstance(output, dict):
            text = output.get("scad") or output.get("scad_code") or output.get("code") or output.get("message")
        source = scad_from_text(text) if isinstance(text, str) else ""
        if not source:
            raise assistant_error("RunPod answered without OpenSCAD source.", "provider_output")
        design = local_design(requirements)
        design["source"] = source
        return design, 0
