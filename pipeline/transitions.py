"""The job state machine: one table, read by the transition service and `valid-transitions`.

pending → validating → queued → processing → generating_images → generating_video →
generating_audio → composing → completed; any non-terminal status → failed or cancelled.
Each kind walks the subset it needs, so from `processing` on a job may skip forward stages.

Who may move a job: the worker running it (the services), and its owner through the API. What
the owner may ask for is `client_transitions`, read by PATCH …/status, POST …/complete and
`valid-transitions` alike: a job whose worker is the client (engine `client`) may be walked
through the table, except into `validating` and `queued`, which only moderation sets (POST
…/start, `job_start`); a job a server engine runs may only be cancelled.
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
ENDED_EARLY = ["failed", "cancelled"]
TERMINAL = frozenset({STATUS_ORDER[-1], *ENDED_EARLY})
ALL_STATUSES = [*STATUS_ORDER, *ENDED_EARLY]
# Statuses in which a worker holds the job (a lease applies).
WORKING = frozenset(STATUS_ORDER[STATUS_ORDER.index("processing") : -1])
# Set only by moderation (`job_start`), never by an owner's PATCH: a job reaches them moderated.
MODERATED = frozenset({"validating", "queued"})
# Accepted spellings from clients (seed 001 says "running").
ALIASES = {"running": "processing", "canceled": "cancelled", "done": "completed", "succeeded": "completed"}


def _forward(status: str) -> list[str]:
    index = STATUS_ORDER.index(status)
    if status in WORKING:
        return STATUS_ORDER[index + 1 :]
    return [STATUS_ORDER[index + 1]]


TRANSITIONS: dict[str, list[str]] = {
    status: ([] if status in TERMINAL else [*_forward(status), *ENDED_EARLY]) for status in ALL_STATUSES
}


def normalize_status(value: str) -> str | None:
    """Case-insensitive status name (with aliases), or None when it is not a status."""
    name = (value or "").strip().lower()
    name = ALIASES.get(name, name)
    return name if name in ALL_STATUSES else None


def can_transition(current: str, target: str) -> bool:
    return target in TRANSITIONS.get(current, [])


def client_transitions(status: str, *, client_worked: bool) -> list[str]:
    """What the job's owner may set now: for a client-worked job the table less what only
    moderation sets (a pending one is started with POST …/start), else only `cancelled`."""
    if status in TERMINAL:
        return []
    if not client_worked:
        return ["cancelled"]
    return [target for target in TRANSITIONS[status] if target not in MODERATED]


def stage_index(status: str) -> int:
    return STATUS_ORDER.index(status) if status in STATUS_ORDER else len(STATUS_ORDER)
