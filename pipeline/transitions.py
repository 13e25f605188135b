"""The job state machine: one table, read by the transition service and `valid-transitions`.

pending → validating → queued → processing → generating_images → generating_video →
generating_audio → composing → completed; any non-terminal status → failed or cancelled.
Each kind walks the subset it needs, so from `processing` on a job may skip forward stages.
"""

STATUS_ORDER = [
    "pending",
    "validating",
    "queued",
    "processing",
    "generating_images",
    "generating_video",
    "generating_audio",
    "composing",
    "completed",
]
TERMINAL = frozenset({"completed", "failed", "cancelled"})
ALL_STATUSES = [*STATUS_ORDER, "failed", "cancelled"]
# Statuses in which a worker holds the job (a lease applies).
WORKING = frozenset(STATUS_ORDER[STATUS_ORDER.index("processing") : -1])
# What a client may ask for with PATCH …/status (seed 001: running, then completed or failed; or
# cancel). `validating` and `queued` are reached only through `job_start`, which moderates first.
CLIENT_TARGETS = frozenset({"processing", "completed", "failed", "cancelled"})
# Accepted spellings from clients (seed 001 says "running").
ALIASES = {"running": "processing", "canceled": "cancelled", "done": "completed", "succeeded": "completed"}


def _forward(status: str) -> list[str]:
    index = STATUS_ORDER.index(status)
    if status in WORKING:
        return STATUS_ORDER[index + 1 :]
    return [STATUS_ORDER[index + 1]]


TRANSITIONS: dict[str, list[str]] = {
    status: ([] if status in TERMINAL else [*_forward(status), "failed", "cancelled"]) for status in ALL_STATUSES
}


def normalize_status(value: str) -> str | None:
    """Case-insensitive status name (with aliases), or None when it is not a status."""
    name = (value or "").strip().lower()
    name = ALIASES.get(name, name)
    return name if name in ALL_STATUSES else None


def can_transition(current: str, target: str) -> bool:
    return target in TRANSITIONS.get(current, [])


def stage_index(status: str) -> int:
    return STATUS_ORDER.index(status) if status in STATUS_ORDER else len(STATUS_ORDER)
