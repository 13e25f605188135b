"""Job lifecycle: create (with credit hold), submit, transitions under a row lock, claim/lease, finish."""

import logging
import uuid
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Case, F, Q, Value, When
from django.db.models.functions import Coalesce
from django.utils import timezone

from mozukai_hub.api.errors import ApplicationError, Conflict

from .. import moderation
from ..engines import engine_resolve
from ..models import Job
from ..queue import enqueue_job_run
from ..transitions import CLIENT_TARGETS, TERMINAL, TRANSITIONS, WORKING, can_transition, normalize_status, stage_index
from .credits import job_credits_end, job_credits_hold, job_credits_quote
from .events import event_append

logger = logging.getLogger(__name__)


class JobAborted(Exception):
    """The job was cancelled or ended elsewhere, or this worker lost its lease: stop quietly."""


def job_event_append(*, job: Job, type: str, data: dict):
    return event_append(job_id=job.pk, type=type, data=data)


def job_create(
    *,
    user,
    kind: str | None = None,
    params: dict | None = None,
    prompt: str = "",
    output_format: str | None = None,
    engine: str | None = None,
    session=None,
    client_ip: str | None = None,
    start: bool = True,
) -> Job:
    """Validate, quote and hold credits, create the job; then submit it (moderation → queued)."""
    params = dict(params or {})
    if prompt:
        params.setdefault("prompt", prompt)
    if output_format:
        params.setdefault("output_format", output_format)
    kind = (kind or "").strip().lower() or (Job.Kind.TEXT_TO_3D if params.get("prompt") else None)
    if kind not in Job.Kind.values:
        raise ApplicationError(f"Unknown job kind {kind!r}; one of: {', '.join(Job.Kind.values)}.", code="unknown_kind")
    chosen = engine_resolve(kind=kind, name=engine)
    params = chosen.validate_params(params)
    cost = job_credits_quote(kind=kind)
    with transaction.atomic():
        job = Job(
            owner=user, session=session, kind=kind, engine=chosen.name, params=params,
            prompt=str(params.get("prompt", ""))[:4000], credit_cost=cost,
        )
        job.credit_reference = f"job:{job.id}"
        job.credits_state = "held" if cost else ""
        job.save()
        job_credits_hold(job=job, client_ip=client_ip)
        job_event_append(job=job, type="status", data={"status": job.status, "progress": 0})
    if start:
        job = job_start(job=job)
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
        verdict = moderation.moderate_job(job=job)  # may call a remote API: outside any transaction
    except moderation.ModerationUnavailable as exc:
        return job_transition(job_id=job.pk, to=Job.Status.FAILED, error_type="moderation_unavailable", error=exc.message)
    if verdict.flagged:
        return job_transition(
            job_id=job.pk, to=Job.Status.FAILED, error_type="moderation",
            error=f"Rejected by moderation ({', '.join(verdict.categories) or 'policy'}).",
        )
    return job_transition(job_id=job.pk, to=Job.Status.QUEUED)


def job_transition(
    *,
    job_id,
    to: str,
    error: str = "",
    error_type: str = "",
    result: dict | None = None,
    lease_token: uuid.UUID | None = None,
    expect_status: str | None = None,
    expect_lease_expired_before: datetime | None = None,
) -> Job:
    """The one place a job's status changes, under its row lock, following `TRANSITIONS`.

    `expect_status` / `expect_lease_expired_before` are re-checked under the lock (the reaper
    decides from an unlocked read): when the row no longer matches, Conflict and nothing changes.
    """
    target = normalize_status(to)
    if target is None:
        raise ApplicationError(f"Unknown status {to!r}.", code="unknown_status")
    with transaction.atomic():
        job = Job.objects.select_for_update().get(pk=job_id)
        if lease_token is not None and job.lease_token != lease_token:
            raise JobAborted(f"lease on job {job_id} lost")
        if expect_status is not None and job.status != expect_status:
            raise Conflict(f"The job is {job.status}, no longer {expect_status}.", code="status_changed")
        if expect_lease_expired_before is not None and not (
            job.lease_expires_at is not None and job.lease_expires_at < expect_lease_expired_before
        ):
            raise Conflict("The job's lease was renewed or taken over.", code="lease_renewed")
        if not can_transition(job.status, target):
            raise Conflict(
                f"A {job.status} job cannot become {target}.", code="invalid_transition",
                extra={"current_status": job.status, "valid_transitions": TRANSITIONS[job.status]},
            )
        now = timezone.now()
        job.status = target
        fields = ["status", "updated_at"]
        if target == Job.Status.QUEUED:
            job.queued_at = now
            fields.append("queued_at")
        if target in WORKING and job.started_at is None:
            job.started_at = now
            fields.append("started_at")
        if target in WORKING and job.lease_expires_at is None:
            # Set working by a client, not claimed by a worker: without a lease neither the claim
            # nor the reaper would ever look at it again and its credits would stay held.
            job.lease_expires_at = _lease_until()
            fields.append("lease_expires_at")
        if result is not None:
            job.result = result
            fields.append("result")
        if target in TERMINAL:
            job.finished_at, job.lease_token, job.lease_expires_at = now, None, None
            job.error, job.error_type = error[:4000], error_type
            if target == Job.Status.COMPLETED:
                job.progress = 100
            job.credits_state = job_credits_end(job=job)
            fields += ["finished_at", "lease_token", "lease_expires_at", "error", "error_type", "progress", "credits_state"]
        job.save(update_fields=fields)
        data = {"status": target, "progress": job.progress}
        if error:
            data.update(error=job.error, error_type=error_type)
        job_event_append(job=job, type="status", data=data)
        if target == Job.Status.QUEUED:
            transaction.on_commit(lambda: enqueue_job_run(job_id))
    return job


def job_status_set_by_client(*, job: Job, to: str, error: str = "", error_type: str = "") -> Job:
    """A client's PATCH …/status: only `CLIENT_TARGETS`; the same status again is a no-op."""
    target = normalize_status(to)
    if target is None:
        raise ApplicationError(f"Unknown status {to!r}.", code="unknown_status")
    if target not in CLIENT_TARGETS:
        raise Conflict(
            f"A client cannot set a job to {target}; allowed: {', '.join(sorted(CLIENT_TARGETS))}. "
            "A pending job is moderated and queued by POST …/start.",
            code="invalid_transition",
            extra={"current_status": job.status, "valid_transitions": TRANSITIONS[job.status]},
        )
    if target == job.status:
        return job
    return job_transition(
        job_id=job.pk, to=target, error=error, error_type=error_type or ("client" if target == Job.Status.FAILED else ""),
    )


def job_cancel(*, job: Job) -> Job:
    return job_transition(job_id=job.pk, to=Job.Status.CANCELLED)


def job_finish(*, job_id, lease_token: uuid.UUID, result: dict) -> Job:
    return job_transition(job_id=job_id, to=Job.Status.COMPLETED, result=result, lease_token=lease_token)


# --- Worker side: claim, lease, stages, progress -----------------------------------------


def _lease_until():
    return timezone.now() + timedelta(seconds=settings.PIPELINE_LEASE_SECONDS)


def job_claim(*, job_id, lease_token: uuid.UUID) -> Job | None:
    """Take the job for this run with one conditional UPDATE; None when it is not ours to run.

    Claimable: queued, or working with an expired lease (its worker died), and attempts left.
    """
    now = timezone.now()
    with transaction.atomic():
        claimed = (
            Job.objects.filter(pk=job_id, attempts__lt=settings.PIPELINE_MAX_ATTEMPTS)
            .filter(Q(status=Job.Status.QUEUED) | Q(status__in=WORKING, lease_expires_at__lt=now))
            .update(
                status=Case(When(status=Job.Status.QUEUED, then=Value(Job.Status.PROCESSING)), default=F("status")),
                lease_token=lease_token,
                lease_expires_at=_lease_until(),
                attempts=F("attempts") + 1,
                started_at=Coalesce(F("started_at"), Value(now)),
                updated_at=now,
            )
        )
        if not claimed:
            return None
        job = Job.objects.get(pk=job_id)
        job_event_append(job=job, type="status", data={"status": job.status, "progress": job.progress, "attempt": job.attempts})
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
    current = Job.objects.values_list("status", flat=True).get(pk=job_id)
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


def job_reap_expired() -> dict:
    """Scheduled: jobs whose worker died (lease expired) are retried, or failed after the limit;
    jobs left pending too long are failed as abandoned (their credit hold released)."""
    now = timezone.now()
    retried, failed = [], []
    expired = Job.objects.filter(status__in=WORKING, lease_expires_at__lt=now).values_list("id", "attempts")
    for job_id, attempts in expired:
        if attempts >= settings.PIPELINE_MAX_ATTEMPTS:
            if _reap_fail(job_id=job_id, error_type="worker_lost", error=f"The worker stopped responding {attempts} times.",
                          expect_lease_expired_before=now):
                failed.append(str(job_id))
        else:
            enqueue_job_run(job_id)  # the claim's conditional UPDATE makes a duplicate harmless
            retried.append(str(job_id))
    stale = now - timedelta(seconds=5 * settings.PIPELINE_LEASE_SECONDS)
    for job_id in Job.objects.filter(status=Job.Status.QUEUED, queued_at__lt=stale).values_list("id", flat=True):
        enqueue_job_run(job_id)  # a lost queue message: queue it again
        retried.append(str(job_id))
    # A request that died between `validating` and `queued` (moderation is done in the request).
    for job_id in Job.objects.filter(status=Job.Status.VALIDATING, updated_at__lt=stale).values_list("id", flat=True):
        if _reap_fail(job_id=job_id, error_type="validation_interrupted",
                      error="Validation did not finish; please try again.", expect_status=Job.Status.VALIDATING):
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
    except Conflict as exc:
        logger.info("reaper left job %s alone: %s", job_id, exc.message)
        return False
    return True
