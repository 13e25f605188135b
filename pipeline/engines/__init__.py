"""Engine registry keyed by (kind, engine name).

An engine validates a kind's params when the job is created (seeing who asks: a `JobOwner`),
names the input assets the job reads, and runs it in the worker with a `JobContext` (see
`pipeline.runner`). The engine is chosen from the request, else from
`PIPELINE_DEFAULT_ENGINES`; an unknown or unconfigured one is a 400, never a substitute.

Every engine declares, per kind: its price (`CREDIT_PRICES`), its time limit
(`PIPELINE_TIME_LIMITS`) and what moderation reads (text params, input and output images).
The engine named `client` exists for every kind: the server runs nothing, the job's owner
reports its progress through the API (seed 001's start/complete flow; see `transitions`).
"""

import importlib
import json
import uuid
from typing import TYPE_CHECKING, Protocol

from django.conf import settings
from django.core.exceptions import ValidationError

from mozukai_hub.api.errors import ApplicationError

if TYPE_CHECKING:
    from ..owners import JobOwner

CLIENT = "client"


class Engine(Protocol):
    kind: str
    name: str
    price_credits: int
    time_limit_seconds: int
    moderated_params: tuple[str, ...]
    moderates_input_images: bool
    moderates_output_images: bool

    def is_configured(self) -> bool: ...

    def validate_params(self, params: dict, *, owner: "JobOwner") -> dict: ...

    def input_asset_ids(self, params: dict) -> list[uuid.UUID]: ...

    def price_units(self, params: dict) -> int: ...

    def run(self, ctx) -> dict: ...


class BaseEngine:
    """Defaults every engine inherits: the kind's price and time limit come from settings."""

    kind: str
    name: str
    moderated_params: tuple[str, ...] = ("prompt",)
    moderates_input_images: bool = False
    moderates_output_images: bool = False

    @property
    def price_credits(self) -> int:
        """Credits per unit (per variant for thumbnails), from the per-kind setting."""
        return settings.CREDIT_PRICES[self.kind]

    @property
    def time_limit_seconds(self) -> int:
        return settings.PIPELINE_TIME_LIMITS[self.kind]

    def is_configured(self) -> bool:
        return True

    def input_asset_ids(self, params: dict) -> list[uuid.UUID]:
        return []

    def price_units(self, params: dict) -> int:
        """How many priced units a job with these params is (variants for thumbnails)."""
        return 1


class EngineError(Exception):
    """A run failed for a reason worth telling the user; `error_type` classifies it."""

    def __init__(self, message: str, *, error_type: str = "engine_error"):
        super().__init__(message)
        self.error_type = error_type


class ClientEngine(BaseEngine):
    """The job's owner does the work and reports it; the server only keeps the record.

    Nothing is computed for it, so it costs nothing; its time limit is how long the owner may
    leave it unfinished before the reaper fails it as abandoned.
    """

    name = CLIENT
    price_credits = 0
    MAX_PARAMS_BYTES = 64 * 1024

    def __init__(self, kind: str):
        self.kind = kind

    def validate_params(self, params: dict, *, owner) -> dict:
        if len(json.dumps(params, default=str)) > self.MAX_PARAMS_BYTES:
            raise ValidationError({"params": [f"At most {self.MAX_PARAMS_BYTES} bytes of JSON."]})
        prompt = params.get("prompt")
        if prompt is not None and (not isinstance(prompt, str) or len(prompt) > 2000):
            raise ValidationError({"prompt": ["A text of at most 2000 characters."]})
        return params

    def run(self, ctx) -> dict:
        raise EngineError("A client-worked job is not run by the server.", error_type="client_job")


_REGISTRY: dict[tuple[str, str], Engine] = {}
_loaded = False


def register(engine: Engine) -> Engine:
    _REGISTRY[(engine.kind, engine.name)] = engine
    return engine


def _load() -> None:
    global _loaded
    if _loaded:
        return
    for kind in settings.PIPELINE_TIME_LIMITS:
        register(ClientEngine(kind))
    for module in ["pipeline.engines.scad.engine", "pipeline.engines.runpod", *settings.PIPELINE_APP_ENGINE_MODULES,
                   *settings.PIPELINE_ENGINE_MODULES]:
        importlib.import_module(module)
    _loaded = True


def engines_all() -> list[Engine]:
    _load()
    return list(_REGISTRY.values())


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
        available = engines_for(kind)
        raise ApplicationError(
            f"Engine {name!r} for {kind} is not configured on this server"
            + (f"; available: {', '.join(available)}." if available else "; none is available."),
            code="engine_unconfigured",
        )
    return engine


def job_time_limit(*, kind: str, name: str) -> int:
    """Wall-clock seconds one run of this engine may take (the kind's limit as it declares it)."""
    try:
        return int(engine_get(kind=kind, name=name).time_limit_seconds)
    except KeyError:  # an engine this process does not have: the kind's setting
        return int(settings.PIPELINE_TIME_LIMITS.get(kind, settings.Q_CLUSTER["timeout"]))


def job_task_timeout(*, kind: str, name: str) -> int:
    """Seconds django-q2 lets the task of one run live: the time limit plus a grace period
    (claiming, clearing an earlier attempt's outputs, storing the results)."""
    return job_time_limit(kind=kind, name=name) + settings.PIPELINE_TASK_GRACE_SECONDS


def engine_prices() -> dict[str, int]:
    """Credits per unit of each kind, as its server engines declare it (they must agree)."""
    prices: dict[str, int] = {}
    for engine in engines_all():
        if engine.name == CLIENT:
            continue
        known = prices.setdefault(engine.kind, engine.price_credits)
        if known != engine.price_credits:
            raise ValueError(f"Engines of {engine.kind} declare different prices ({known} and {engine.price_credits}).")
    return prices
