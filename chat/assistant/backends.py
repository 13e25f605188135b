"""The assistant's backends: `local` (offline, deterministic, the default), `runpod` (seed 001's
serverless worker) and `openai` (any OpenAI-compatible chat-completions server), chosen by
`CHAT_BACKEND`. Each answers the same three questions for `chat.runs`:

- `health()` → a JSON-able state;
- `requirements(ctx, quiet=False)` → (requirements dict, tokens), streaming its reply through
  `ctx.delta` unless quiet;
- `design(ctx, requirements, feedback=None)` → (design dict: source, parameters,
  expected_bbox_mm, expected, notes; tokens). `feedback` is the error of the previous SCAD
  (the repair round; `repair_rounds` says how many a backend gets: none for the local
  generator, whose templates are checked by tests, one for a model).

The local functions (requirements_extract/reply/clean, scad_design, design_reply, mesh_check)
live in chat.assistant.local, .scad and .checks.
"""

import dataclasses
import shutil

from django.conf import settings
from django.core.exceptions import ValidationError

from mozukai_hub.api.errors import ApplicationError


class BackendUnavailable(ApplicationError):
    code = "backend_unconfigured"

    def __init__(self, message: str):
        super().__init__(message)
        self.error_type = self.code


def assistant_error(message: str, error_type: str):
    from chat.runs import AssistantError

    return AssistantError(message, error_type=error_type)


def requirements_checked(value) -> dict:
    """A backend's requirements through the same validation as a person's edits."""
    from .local import requirements_clean

    try:
        return requirements_clean(value)
    except ValidationError as exc:
        detail = "; ".join(f"{k}: {' '.join(v)}" for k, v in exc.message_dict.items()) if hasattr(exc, "error_dict") \
            else " ".join(exc.messages)
        raise assistant_error(f"The requirements are not usable: {detail}", "bad_requirements") from exc


def local_design(requirements: dict) -> dict:
    from .scad import scad_design

    try:
        return dataclasses.asdict(scad_design(requirements))
    except ValidationError as exc:
        raise assistant_error(f"Cannot design that: {' '.join(exc.messages)}", "bad_requirements") from exc
    except ApplicationError as exc:
        raise assistant_error(f"Cannot design that: {exc.message}", "bad_requirements") from exc


class LocalBackend:
    name = "local"
    repair_rounds = 0
    streams = False  # answers at once: one message, no deltas

    def health(self) -> dict:
        return {"status": "ready", "backend": self.name, "openscad": shutil.which(settings.OPENSCAD_BINARY) is not None}

    def requirements(self, ctx, quiet: bool = False) -> tuple[dict, int]:
        from .local import requirements_extract, requirements_reply

        requirements = requirements_extract(ctx.content, ctx.history)
        if ctx.requirements_json:
            requirements = requirements_checked({**requirements, **ctx.requirements_json})
        if not quiet:
            ctx.delta(requirements_reply(requirements))
        return requirements, 0

    def design(self, ctx, requirements: dict, feedback: str | None = None) -> tuple[dict, int]:
        return local_design(requirements), 0


def backend_get(name: str):
    if name == "local":
        return LocalBackend()
    if name == "runpod":
        from .runpod import RunPodBackend

        backend = RunPodBackend()
    elif name == "openai":
        from .openai import OpenAIBackend

        backend = OpenAIBackend()
    else:
        raise BackendUnavailable(f"Unknown assistant backend {name!r}; one of: local, runpod, openai.")
    if not backend.is_configured():
        raise BackendUnavailable(f"The {name} assistant backend is not configured ({backend.needs}).")
    return backend
