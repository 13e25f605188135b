"""Engine registry keyed by (kind, engine name).

An engine validates a kind's params when the job is created and runs it in the worker with a
`JobContext` (see `pipeline.runner`). The engine is chosen from the request, else from
`PIPELINE_DEFAULT_ENGINES`; an unknown or unconfigured one is a 400, never a substitute.
"""

import importlib
from typing import Protocol

from django.conf import settings

from mozukai_hub.api.errors import ApplicationError


class Engine(Protocol):
    kind: str
    name: str

    def is_configured(self) -> bool: ...

    def validate_params(self, params: dict) -> dict: ...

    def run(self, ctx) -> dict: ...


class EngineError(Exception):
    """A run failed for a reason worth telling the user; `error_type` classifies it."""

    def __init__(self, message: str, *, error_type: str = "engine_error"):
        super().__init__(message)
        self.error_type = error_type


_REGISTRY: dict[tuple[str, str], Engine] = {}
_loaded = False


def register(engine: Engine) -> Engine:
    _REGISTRY[(engine.kind, engine.name)] = engine
    return engine


def _load() -> None:
    global _loaded
    if _loaded:
        return
    for module in ["pipeline.engines.scad.engine", "pipeline.engines.runpod", *settings.PIPELINE_ENGINE_MODULES]:
        importlib.import_module(module)
    _loaded = True


def engine_get(*, kind: str, name: str) -> Engine:
    _load()
    return _REGISTRY[(kind, name)]


def engines_for(kind: str) -> list[str]:
    _load()
    return sorted(name for (k, name), engine in _REGISTRY.items() if k == kind and engine.is_configured())


def engine_resolve(*, kind: str, name: str | None) -> Engine:
    _load()
    name = (name or settings.PIPELINE_DEFAULT_ENGINES.get(kind) or "").strip().lower()
    engine = _REGISTRY.get((kind, name))
    if engine is None:
        available = engines_for(kind)
        raise ApplicationError(
            f"No engine {name!r} for {kind}" + (f"; available: {', '.join(available)}." if available else "; none is available."),
            code="unknown_engine",
        )
    if not engine.is_configured():
        raise ApplicationError(f"Engine {name!r} for {kind} is not configured on this server.", code="engine_unconfigured")
    return engine
