"""Job lifecycle: admission, create (with credit hold), submit, transitions under a row lock,
fair dispatch to the task broker, claim/lease, finish."""

import hashlib
import logging
import math
import uuid
from datetime import datetime, timedelta
from functools import partial

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Case, F, Q, Value, When
from django.db.models.functions import Coalesce
from django.utils import timezone

from mozukai_hub.api.errors import ApplicationError, Conflict, TooManyRequests
from mozukai_hub.client_ip import client_ip_subject

from .. import moderation
from ..engines import CLIENT, EngineError, engine_get, engine_resolve, job_task_timeout, job_time_limit
from ..models import Asset, Job, JobInput
from ..owners import JobOwner, visitor_token_hash, visitor_token_new
from ..queue import enqueue_job_run
from ..selectors import asset_may_be_read_by_job, assets_for_owner
from ..transitions import MODERATED, TERMINAL, WORKING, can_transition, client_transitions, normalize_status, stage_index
from .credits import job_credits_end, job_credits_hold
from .events import event_append

logger = logging.getLogger(__name__)


class JobAborted(Exception):
    """The job was cancelled or ended elsewhere, or this worker lost its lease: stop quietly."""


def job_event_append(*, job: Job, type: str, data: dict):
    return event_append(job_id=job.pk, type=type, data=data)


def _engine_of(job: Job):
    return engine_get(kind=job.kind, name=job.engine)


def _inputs_resolve(*, owner: JobOwner, asset_ids: list) -> list[Asset]:
    """Each input through the owner's access gate: another's (or a missing) asset is a 404."""
    wanted = list(dict.fromkeys(asset_ids))
    found = {asset.pk: asset for asset in assets_for_owner(owner=owner, asset_ids=wanted)}
    missing = [str(asset_id) for asset_id in wanted if asset_id not in found]
    if missing:
        raise ApplicationError(f"Input asset {missing[0]} does not exist.", code="not_found", status_code=404,
                               extra={"asset_ids": missing})
    return [found[asset_id] for asset_id in wanted]


def job_create(
    *,
    owner: JobOwner,
    kind: str | None = None,
    params: dict | None = None,
    prompt: str = "",
    output_format: str | None = None,
    engine: str | None = None,
    session=None,
    start: bool = True,
) -> Job:
    """Validate, admit (per-owner caps, else 429), resolve inputs, hold credits, create the job;
    then submit it (moderation → queued).

    An anonymous visitor's job gets a token, returned once as `job.visitor_token` on the
    returned instance (only its hash is stored): the visitor reads the job with it.
    """
    params = dict(params or {})
    if prompt:
        params.setdefault("prompt", prompt)
    if output_format:
        params.setdefault("output_format", output_format)
    kind = (kind or "").strip().lower() or (Job.Kind.TEXT_TO_3D if params.get("prompt") else None)
    if kind not in Job.Kind.values:
        raise ApplicationError(f"Unknown job kind {kind!r}; one of: {', '.join(Job.Kind.values)}.", code="unknown_kind")
    if session is not None and (owner.is_visitor or session.owner_id != owner.user.pk):
        raise ApplicationError("A job can only join a session of its owner.", code="not_found", status_code=404)
    chosen = engine_resolve(kind=kind, name=engine)
    params = chosen.validate_params(params, owner=owner)
    cost = chosen.price_credits * chosen.price_units(params)
    token = visitor_token_new() if owner.is_visitor else ""
    with transaction.atomic():
        # Until commit, this owner's other creates wait here: the counts below cannot be raced.
        owner_key = _owner_key(owner)
        _owner_lock(**owner_key)
        _job_admit(**owner_key, client_worked=chosen.name == CLIENT)
        inputs = _inputs_resolve(owner=owner, asset_ids=chosen.input_asset_ids(params))
        job = Job(
            owner=owner.user, visitor_ip=owner_key["visitor_ip"],
            visitor_token_hash=visitor_token_hash(token) if token else "",
            session=session, kind=kind, engine=chosen.name, params=params,
            prompt=str(params.get("prompt", ""))[:4000], credit_cost=cost,
        )
        job.credit_reference = f"job:{job.id}"
        job.credits_state = Job.CreditsState.HELD if cost else Job.CreditsState.NONE
        job.save()
        JobInput.objects.bulk_create(
            [JobInput(job=job, asset=asset, asset_ref=asset.pk, role=asset.role) for asset in inputs]
        )
        job_credits_hold(job=job, owner=owner)
        job_event_append(job=job, type="status", data={"status": job.status, "progress": 0})
    if start:
        job = job_start(job=job)
    if token:
        job.visitor_token = token
    return job


def job_start(*, job: Job) -> Job:
    """pending → validating (moderation) → queued, then enqueue. A started job is returned as is."""
    if job.status != Job.Status.PENDING:
        if job.status in TERMINAL:
            raise Conflict(f"Job is {job.status}; it cannot be started.", code="invalid_transition")
        return job
    try:
        job = job_transition(job_id=job.pk, to=Job.Status.VALIDATING)
    except Conflict:
        return Job.objects.get(pk=job.pk)  # started concurrently by another request
    try:
        # may call a remote API: outside any transaction
        verdict = moderation.moderate_job(job=job, engine=_engine_of(job))
    except moderation.ModerationUnavailable as exc:
        return job_transition(job_id=job.pk, to=Job.Status.FAILED, error_type="moderation_unavailable", error=exc.message)
    record = verdict.as_dict()
    if verdict.flagged:
        return job_transition(
            job_id=job.pk, to=Job.Status.FAILED, error_type="moderation", moderation_record=record,
            error=f"Rejected by moderation ({', '.join(verdict.categories) or 'policy'}).",
            event_extra={"categories": list(verdict.categories), "engine": verdict.engine},
        )
    return job_transition(job_id=job.pk, to=Job.Status.QUEUED, moderation_record=record)


def job_transition(
    *,
    job_id,
    to: str,
    error: str = "",
    error_type: str = "",
    result: dict | None = None,
    moderation_record: dict | None = None,
    event_extra: dict | None = None,
    lease_token: uuid.UUID | None = None,
    by_client: bool = False,
    expect_status: str | None = None,
    expect_lease_expired_before: datetime | None = None,
) -> Job:
    """The one place a job's status changes, under its row lock, following `TRANSITIONS`.

    `by_client`: the owner asks through the API; only `client_transitions` of the locked row.
    `expect_status` / `expect_lease_expired_before` are re-checked under the lock (the reaper
    decides from an unlocked read): when the row no longer matches, Conflict and nothing changes.
    """
    target = normalize_status(to)
    if target is None:
        raise ApplicationError(f"Unknown status {to!r}.", code="unknown_status")
    with transaction.atomic():
        job = Job.objects.select_for_update().filter(pk=job_id).first()
        if job is None:
            # Deleted meanwhile (its owner's account, with everything it owned): a worker stops
            # quietly; anyone else is told it is gone.
            if lease_token is not None:
                raise JobAborted(f"job {job_id} was deleted")
            raise ApplicationError("The job no longer exists.", code="not_found", status_code=404)
        if lease_token is not None and job.lease_token != lease_token:
            raise JobAborted(f"lease on job {job_id} lost")
        if expect_status is not None and job.status != expect_status:
            raise Conflict(f"The job is {job.status}, no longer {expect_status}.", code="status_changed")
        if expect_lease_expired_before is not None and not (
            job.lease_expires_at is not None and job.lease_expires_at < expect_lease_expired_before
        ):
            raise Conflict("The job's lease was renewed or taken over.", code="lease_renewed")
        allowed = client_transitions(job.status, client_worked=job.client_worked) if by_client else None
        if not can_transition(job.status, target) or (allowed is not None and target not in allowed):
            if by_client and not job.client_worked and job.status not in TERMINAL:
                message = (f"This job is run by the server (engine {job.engine!r}): you may only cancel it. "
                           f"Create a job with engine {CLIENT!r} to report its progress yourself.")
            elif by_client and target in MODERATED and job.status not in TERMINAL:
                message = (f"Only moderation moves a job to {target}: start a pending job with POST …/start "
                           f"(this one is {job.status}).")
            else:
                message = f"A {job.status} job cannot become {target}."
            raise Conflict(
                message, code="invalid_transition",
                extra={"current_status": job.status,
                       "valid_transitions": client_transitions(job.status, client_worked=job.client_worked)},
            )
        now = timezone.now()
        left_queue = job.status == Job.Status.QUEUED
        job.status = target
        fields = ["status", "updated_at"]
        if target == Job.Status.QUEUED:
            job.queued_at = now
            fields.append("queued_at")
        if target in WORKING and job.started_at is None:
            job.started_at = now
            fields.append("started_at")
        if job.client_worked and target not in TERMINAL:
            # Nobody renews a client's lease: it is how long the owner may stay silent before the
            # reaper fails the job as abandoned (and releases anything held).
            job.lease_expires_at = now + timedelta(seconds=job_time_limit(kind=job.kind, name=job.engine))
            fields.append("lease_expires_at")
        if result is not None:
            job.result = result
            fields.append("result")
        if moderation_record is not None:
            job.moderation = moderation_record
            fields.append("moderation")
        if target in TERMINAL:
            job.finished_at, job.lease_token, job.lease_expires_at, job.deadline_at = now, None, None, None
            job.error, job.error_type = error[:4000], error_type
            if target == Job.Status.COMPLETED:
                job.progress = 100
            job.credits_state = job_credits_end(job=job)
            fields += ["finished_at", "lease_token", "lease_expires_at", "deadline_at", "error", "error_type", "progress",
                       "credits_state"]
        job.save(update_fields=list(dict.fromkeys(fields)))
        data = {"status": target, "progress": job.progress}
        if error:
            data.update(error=job.error, error_type=error_type)
        if target == Job.Status.QUEUED and not job.client_worked:
            data["queue_position"] = job_queue_positions(jobs=[job]).get(job.pk, 0)
        data.update(event_extra or {})
        job_event_append(job=job, type="status", data=data)
        if target in TERMINAL:
            # Exactly once per job: no transition leaves a terminal status.
            transaction.on_commit(partial(_job_finished_notify, job.pk), robust=True)
        if not job.client_worked:
            if left_queue:
                _queue_moved(job=job)
            if target == Job.Status.QUEUED or target in TERMINAL:
                # Queued: its turn may have come. Ended: it frees one of its owner's broker slots.
                # robust: a failed dispatch is logged and the reaper makes it (the change stands).
                transaction.on_commit(partial(job_dispatch, **_job_owner_key(job)), robust=True)
    return job


# --- Apps that continue when a job ends --------------------------------------------------
#
# An app above pipeline that starts a job and must carry on when it ends (the design chat checks
# a rendered model, then answers) registers a listener instead of keeping a worker waiting on
# the job: with two embedded workers, two waiting tasks would starve the jobs they wait for.

_FINISHED_LISTENERS: dict[str, object] = {}


def job_finished_listener_register(*, name: str, listener) -> None:
    """`listener(job_id)` runs once, after the commit that moves a job to completed, failed or
    cancelled, in the process that ended it and outside any transaction. It must be quick (enqueue
    longer work) and idempotent; an exception is logged and does not undo the job's change.
    Registering a name again replaces it (AppConfig.ready() may run twice in tests)."""
    _FINISHED_LISTENERS[name] = listener


def _job_finished_notify(job_id) -> None:
    for name, listener in list(_FINISHED_LISTENERS.items()):
        try:
            listener(job_id)
        except Exception:
            logger.exception("job-finished listener %s failed for job %s", name, job_id)


def job_transitions_for_client(*, job: Job) -> list[str]:
    """What the job's owner may set now (PATCH …/status, POST …/complete, `valid-transitions`)."""
    return client_transitions(job.status, client_worked=job.client_worked)


def job_status_set_by_client(*, job: Job, to: str, error: str = "", error_type: str = "") -> Job:
    """The owner's PATCH …/status: `job_transitions_for_client`; the same status again is a no-op."""
    target = normalize_status(to)
    if target is None:
        raise ApplicationError(f"Unknown status {to!r}.", code="unknown_status")
    if target == job.status and job.client_worked and target != Job.Status.PENDING:
        return job  # the owner repeating itself
    return job_transition(
        job_id=job.pk, to=target, error=error, error_type=error_type or ("client" if target == Job.Status.FAILED else ""),
        by_client=True,
    )


def job_complete_by_client(*, job: Job, success: bool) -> Job:
    """Seed 001's POST …/complete?success=: the owner's report of how its own run ended."""
    if success:
        return job_status_set_by_client(job=job, to=Job.Status.COMPLETED)
    return job_status_set_by_client(job=job, to=Job.Status.FAILED, error="Reported failed by the client.", error_type="client")


def job_cancel(*, job: Job) -> Job:
    return job_transition(job_id=job.pk, to=Job.Status.CANCELLED)


def job_finish(*, job_id, lease_token: uuid.UUID, result: dict) -> Job:
    return job_transition(job_id=job_id, to=Job.Status.COMPLETED, result=result, lease_token=lease_token)


def job_inputs_check(*, job: Job) -> None:
    """When a run starts: every recorded input still exists and is still the owner's."""
    for item in JobInput.objects.filter(job=job).select_related("asset"):
        if item.asset is None:
            raise EngineError(f"The {item.role} input ({item.asset_ref}) was deleted before the job ran.",
                              error_type="input_unavailable")
        if not asset_may_be_read_by_job(asset=item.asset, job=job):
            raise EngineError(f"The {item.role} input ({item.asset_ref}) no longer belongs to the job's owner.",
                              error_type="input_unavailable")


# --- Admission and fair dispatch ---------------------------------------------------------
#
# The job queue is shared by everyone. Two per-owner caps guard the door (jobs in flight and
# jobs created per minute, a 429 past either), and the broker only ever holds
# PIPELINE_MAX_DISPATCHED_PER_OWNER runs of one owner: the owner's other queued jobs wait in the
# database and are handed over, oldest first, as the owner's dispatched ones end. Whatever one
# owner queues, another owner's job waits for at most that many runs per other active owner.
# An owner is a user, or an anonymous visitor's client IP, an IPv6 one as its /64 (pipeline.owners).

# A job in flight ends when it ends: there is no exact time to tell a client, only a short wait.
IN_FLIGHT_RETRY_AFTER_SECONDS = 5


def _owner_key(owner: JobOwner) -> dict:
    """A visitor is keyed by its address's subject (`client_ip_subject`): one IPv6 /64 is one visitor."""
    if owner.is_visitor:
        return {"owner_id": None, "visitor_ip": client_ip_subject(owner.client_ip)}
    return {"owner_id": owner.user.pk, "visitor_ip": None}


def _job_owner_key(job: Job) -> dict:
    return {"owner_id": job.owner_id, "visitor_ip": None if job.owner_id is not None else job.visitor_ip}


def _owner_jobs(*, owner_id, visitor_ip):
    if owner_id is not None:
        return Job.objects.filter(owner_id=owner_id)
    return Job.objects.filter(owner__isnull=True, visitor_ip=visitor_ip)


def _owner_lock(*, owner_id, visitor_ip) -> None:
    """Serialize admission and dispatch of one owner until the current transaction ends.

    PostgreSQL: a transaction-scoped advisory lock on the owner (a visitor's IP has no row to
    lock, and a user's row is locked by unrelated work such as the credit ledger). SQLite: every
    transaction begins IMMEDIATE (settings), so it already holds the database's write lock.
    """
    if not connection.in_atomic_block:
        raise RuntimeError("The owner lock only lasts as long as a transaction: take it inside one.")
    if connection.vendor != "postgresql":
        return
    key = f"pipeline.job-owner:user:{owner_id}" if owner_id is not None else f"pipeline.job-owner:ip:{visitor_ip}"
    number = int.from_bytes(hashlib.blake2b(key.encode(), digest_size=8).digest(), "big", signed=True)
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [number])


def _job_admit(*, owner_id, visitor_ip, client_worked: bool) -> None:
    """Raise TooManyRequests (429, nothing created) when the owner is at a cap. Under the owner lock.

    Every job counts towards the per-minute cap. A client-worked job (engine `client`) does not
    count in flight: the server runs nothing for it and it never enters the broker, its
    owner does the work; it is a record, bounded by the per-minute cap and ended by the reaper
    when its owner falls silent.
    """
    now = timezone.now()
    jobs = _owner_jobs(owner_id=owner_id, visitor_ip=visitor_ip)
    per_minute = settings.PIPELINE_MAX_JOBS_PER_MINUTE
    if per_minute > 0:
        recent = list(jobs.filter(created_at__gt=now - timedelta(minutes=1)).order_by("-created_at")
                      .values_list("created_at", flat=True)[:per_minute])
        if len(recent) >= per_minute:
            wait = (recent[-1] + timedelta(minutes=1) - now).total_seconds()
            raise TooManyRequests(
                f"At most {per_minute} jobs may be created per minute; try again in {math.ceil(wait)} s.",
                code="too_many_jobs_per_minute", retry_after=math.ceil(wait), extra={"limit": per_minute},
            )
    in_flight_cap = settings.PIPELINE_MAX_JOBS_IN_FLIGHT
    if in_flight_cap > 0 and not client_worked:
        in_flight = jobs.exclude(status__in=TERMINAL).exclude(engine=CLIENT).count()
        if in_flight >= in_flight_cap:
            raise TooManyRequests(
                f"You have {in_flight} unfinished jobs, the most allowed at a time ({in_flight_cap}); "
                "create this one when one of them has ended, or cancel one.",
                code="too_many_jobs_in_flight", retry_after=IN_FLIGHT_RETRY_AFTER_SECONDS,
                extra={"limit": in_flight_cap, "in_flight": in_flight},
            )


def job_dispatch(*, owner_id=None, visitor_ip: str | None = None) -> list[str]:
    """Hand the owner's waiting jobs to the broker, oldest first, while fewer than
    PIPELINE_MAX_DISPATCHED_PER_OWNER of its dispatched runs are unfinished. Returns their ids.

    Runs after commit (of a job being queued or ending) and from the reaper; in its own
    transaction, under the owner lock, so two calls never both fill the same slot.
    """
    now = timezone.now()
    sent = []
    with transaction.atomic():
        _owner_lock(owner_id=owner_id, visitor_ip=visitor_ip)
        jobs = _owner_jobs(owner_id=owner_id, visitor_ip=visitor_ip).exclude(engine=CLIENT)
        busy = jobs.filter(dispatched_at__isnull=False).exclude(status__in=TERMINAL).count()
        free = settings.PIPELINE_MAX_DISPATCHED_PER_OWNER - busy
        if free <= 0:
            return []
        waiting = (jobs.filter(status=Job.Status.QUEUED, dispatched_at__isnull=True).order_by("queued_at", "id")
                   .values_list("id", "kind", "engine")[:free])
        for job_id, kind, engine in waiting:
            # Conditional: a job cancelled meanwhile is not dispatched.
            if Job.objects.filter(pk=job_id, status=Job.Status.QUEUED, dispatched_at__isnull=True).update(dispatched_at=now):
                transaction.on_commit(partial(_enqueue, job_id, kind, engine), robust=True)
                sent.append(str(job_id))
    return sent


def job_queue_positions(*, jobs: list[Job]) -> dict:
    """{job id: how many of its owner's jobs are ahead of it in the queue} for the queued,
    server-run ones of `jobs`, in one query. The owner's queue is its queued jobs in the order
    they are dispatched (queued_at, id); 0 is the next of the owner's to start (dispatched, or
    dispatched as soon as one of the owner's running jobs ends)."""
    queued = [job for job in jobs if job.status == Job.Status.QUEUED and not job.client_worked]
    if not queued:
        return {}
    keys = {(job.owner_id, None if job.owner_id is not None else job.visitor_ip) for job in queued}
    condition = Q()
    for owner_id, visitor_ip in keys:
        condition |= Q(owner_id=owner_id) if owner_id is not None else Q(owner__isnull=True, visitor_ip=visitor_ip)
    order = (Job.objects.filter(condition, status=Job.Status.QUEUED).exclude(engine=CLIENT).order_by("queued_at", "id")
             .values_list("id", "owner_id", "visitor_ip"))
    seen: dict = {}
    positions = {}
    for job_id, owner_id, visitor_ip in order:
        key = (owner_id, None if owner_id is not None else visitor_ip)
        positions[job_id] = seen.get(key, 0)
        seen[key] = positions[job_id] + 1
    return {job.pk: positions[job.pk] for job in queued if job.pk in positions}


def _queue_moved(*, job: Job) -> None:
    """`job` left its owner's queue (started, cancelled or failed): each of the owner's jobs queued
    after it moves up one place, which its event log records."""
    later = list(
        _owner_jobs(**_job_owner_key(job)).filter(status=Job.Status.QUEUED).exclude(engine=CLIENT)
        .filter(Q(queued_at__gt=job.queued_at) | Q(queued_at=job.queued_at, id__gt=job.pk)).order_by("queued_at", "id")
    ) if job.queued_at is not None else []
    positions = job_queue_positions(jobs=later)
    for waiting in later:
        position = positions.get(waiting.pk)
        if position is None:
            continue
        ahead = "next of your jobs to start" if position == 0 else f"{position} of your jobs ahead"
        event_append(job_id=waiting.pk, type="progress",
                     data={"progress": waiting.progress, "stage": "queued", "message": f"Queued: {ahead}",
                           "queue_position": position})


# --- Worker side: claim, lease, stages, progress -----------------------------------------


def _lease_until():
    return timezone.now() + timedelta(seconds=settings.PIPELINE_LEASE_SECONDS)


def job_claim(*, job_id, lease_token: uuid.UUID) -> Job | None:
    """Take the job for this run with one conditional UPDATE; None when it is not ours to run.

    Claimable: a server engine's job, queued, or working with an expired lease (its worker
    died) and its deadline not passed (the reaper fails that one as timed out: a retried run
    does not get a new time limit), and attempts left. The run's deadline is now + the kind's
    time limit.
    """
    now = timezone.now()
    found = Job.objects.filter(pk=job_id).values_list("kind", "engine").first()
    if found is None or found[1] == CLIENT:
        return None
    limit = job_time_limit(kind=found[0], name=found[1])
    with transaction.atomic():
        claimed = (
            Job.objects.filter(pk=job_id, attempts__lt=settings.PIPELINE_MAX_ATTEMPTS)
            .exclude(engine=CLIENT)
            .filter(Q(status=Job.Status.QUEUED)
                    | Q(Q(deadline_at__isnull=True) | Q(deadline_at__gt=now), status__in=WORKING, lease_expires_at__lt=now))
            .update(
                status=Case(When(status=Job.Status.QUEUED, then=Value(Job.Status.PROCESSING)), default=F("status")),
                # A message that reached a worker without a dispatch (a duplicate, an old one)
                # makes the run count against its owner's dispatched jobs all the same.
                dispatched_at=Coalesce(F("dispatched_at"), Value(now)),
                lease_token=lease_token,
                lease_expires_at=_lease_until(),
                deadline_at=now + timedelta(seconds=limit),
                attempts=F("attempts") + 1,
                started_at=Coalesce(F("started_at"), Value(now)),
                updated_at=now,
            )
        )
        if not claimed:
            return None
        job = Job.objects.get(pk=job_id)
        job_event_append(job=job, type="status", data={"status": job.status, "progress": job.progress, "attempt": job.attempts})
        if job.attempts == 1:
            _queue_moved(job=job)
    return job


def job_lease_renew(*, job_id, lease_token: uuid.UUID) -> bool:
    """Extend our lease; False when the job ended or another run took it over."""
    return bool(
        Job.objects.filter(pk=job_id, lease_token=lease_token)
        .exclude(status__in=TERMINAL)
        .update(lease_expires_at=_lease_until())
    )


def job_stage(*, job_id, lease_token: uuid.UUID, status: str) -> None:
    """Move forward to a working stage; a rerun that is already past it stays where it is."""
    current = Job.objects.filter(pk=job_id).values_list("status", flat=True).first()
    if current is None:
        raise JobAborted(f"job {job_id} was deleted")
    if stage_index(current) >= stage_index(status):
        return
    job_transition(job_id=job_id, to=status, lease_token=lease_token)


def job_progress(*, job_id, lease_token: uuid.UUID, progress: int, stage: str = "", message: str = "") -> None:
    progress = max(0, min(100, int(progress)))
    with transaction.atomic():
        updated = Job.objects.filter(pk=job_id, lease_token=lease_token).exclude(status__in=TERMINAL).update(
            progress=progress, stage=stage[:64], updated_at=timezone.now()
        )
        if not updated:
            raise JobAborted(f"job {job_id} ended or lease lost")
        data = {"progress": progress, "stage": stage}
        if message:
            data["message"] = message
        event_append(job_id=job_id, type="progress", data=data)


def job_provider_job_set(*, job_id, lease_token: uuid.UUID, provider_job_id: str) -> None:
    """Record the provider's id before waiting on it, so a rerun resumes instead of resubmitting."""
    updated = Job.objects.filter(pk=job_id, lease_token=lease_token).exclude(status__in=TERMINAL).update(
        provider_job_id=provider_job_id[:200], updated_at=timezone.now()
    )
    if not updated:
        raise JobAborted(f"job {job_id} ended or lease lost")


def _enqueue(job_id, kind: str, engine: str) -> None:
    enqueue_job_run(job_id, timeout_seconds=job_task_timeout(kind=kind, name=engine))


def job_reap_expired() -> dict:
    """Scheduled: a run whose worker died (lease expired) is retried, or failed after the limit;
    a run past its kind's time limit is failed as timed out (never retried); a client-worked job
    its owner left silent is failed as abandoned; jobs left pending too long are failed too.
    Every failure releases the job's credit hold."""
    now = timezone.now()
    retried, failed = [], []
    server = Job.objects.exclude(engine=CLIENT)
    expired = server.filter(status__in=WORKING, lease_expires_at__lt=now).values_list(
        "id", "kind", "engine", "attempts", "deadline_at", "lease_token", "dispatched_at")
    lease_period_ago = now - timedelta(seconds=settings.PIPELINE_LEASE_SECONDS)
    for job_id, kind, engine, attempts, deadline_at, lease_token, dispatched_at in expired:
        if deadline_at is not None and deadline_at < now:
            limit = job_time_limit(kind=kind, name=engine)
            if _reap_fail(job_id=job_id, error_type="timeout", error=f"The run took longer than its {limit} s limit.",
                          expect_lease_expired_before=now):
                failed.append(str(job_id))
        elif attempts >= settings.PIPELINE_MAX_ATTEMPTS:
            if _reap_fail(job_id=job_id, error_type="worker_lost", error=f"The worker stopped responding {attempts} times.",
                          expect_lease_expired_before=now):
                failed.append(str(job_id))
        else:
            # The dead run is given up (its token cleared) and the job sent again: at once, then
            # at most once per lease period while it waits for a worker (the dispatch time moves
            # on), not on every pass. Conditional on what was read, so two reapers send it once;
            # the claim's conditional UPDATE makes a duplicate harmless anyway.
            due = lease_token is not None or dispatched_at is None or dispatched_at < lease_period_ago
            if due and Job.objects.filter(pk=job_id, status__in=WORKING, lease_expires_at__lt=now, lease_token=lease_token,
                                          dispatched_at=dispatched_at).update(lease_token=None, dispatched_at=now):
                _enqueue(job_id, kind, engine)
                retried.append(str(job_id))
    stale = now - timedelta(seconds=5 * settings.PIPELINE_LEASE_SECONDS)
    lost = server.filter(status=Job.Status.QUEUED, dispatched_at__lt=stale).values_list("id", "kind", "engine", "dispatched_at")
    for job_id, kind, engine, dispatched_at in lost:
        # A lost queue message: queue it again, at most once per period (the dispatch time moves
        # on), and only while it is still queued (the claim's conditional UPDATE makes a
        # duplicate harmless anyway).
        if Job.objects.filter(pk=job_id, status=Job.Status.QUEUED, dispatched_at=dispatched_at).update(dispatched_at=now):
            _enqueue(job_id, kind, engine)
            retried.append(str(job_id))
    # A dispatch lost with its process (between a commit and its on_commit hook): every owner
    # with waiting jobs gets its free broker slots filled.
    waiting = (server.filter(status=Job.Status.QUEUED, dispatched_at__isnull=True, queued_at__lt=stale)
               .values_list("owner_id", "visitor_ip").order_by().distinct())
    for owner_id, visitor_ip in waiting:
        retried += job_dispatch(owner_id=owner_id, visitor_ip=visitor_ip)
    # A request that died between `validating` and `queued` (moderation is done in the request).
    for job_id in server.filter(status=Job.Status.VALIDATING, updated_at__lt=stale).values_list("id", flat=True):
        if _reap_fail(job_id=job_id, error_type="validation_interrupted",
                      error="Validation did not finish; please try again.", expect_status=Job.Status.VALIDATING):
            failed.append(str(job_id))
    silent = (Job.objects.filter(engine=CLIENT, lease_expires_at__lt=now).exclude(status__in=TERMINAL)
              .exclude(status=Job.Status.PENDING).values_list("id", flat=True))
    for job_id in silent:
        if _reap_fail(job_id=job_id, error_type="abandoned", error="The client stopped reporting on this job.",
                      expect_lease_expired_before=now):
            failed.append(str(job_id))
    max_age = settings.PIPELINE_PENDING_MAX_AGE_SECONDS
    abandoned = Job.objects.filter(status=Job.Status.PENDING, created_at__lt=now - timedelta(seconds=max_age))
    for job_id in abandoned.values_list("id", flat=True):
        if _reap_fail(job_id=job_id, error_type="abandoned", error="The job was never started.",
                      expect_status=Job.Status.PENDING):
            failed.append(str(job_id))
    return {"retried": retried, "failed": failed}


def _reap_fail(*, job_id, error_type: str, error: str, **expect) -> bool:
    """Fail one job the reaper picked; False when it changed meanwhile (checked under its lock)."""
    try:
        job_transition(job_id=job_id, to=Job.Status.FAILED, error_type=error_type, error=error, **expect)
    except ApplicationError as exc:  # Conflict: it changed; not_found: it was deleted
        logger.info("reaper left job %s alone: %s", job_id, exc.message)
        return False
    return True
