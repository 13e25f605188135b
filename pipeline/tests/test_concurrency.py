"""Races on one job, with real threads on PostgreSQL: exactly one ending, credits ended once."""

import threading
import time
import uuid
from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.utils import timezone

from mozukai_hub.api.errors import Conflict
from mozukai_hub.testing.concurrency import run_together
from pipeline import services
from pipeline.models import Job
from pipeline.owners import JobOwner

from .conftest import balance

pytestmark = pytest.mark.django_db(transaction=True)


def test_cancel_and_complete_race_one_wins(funded_user):
    for _ in range(5):
        job = services.job_create(owner=JobOwner.for_user(funded_user), prompt="a bonsai pot")
        services.job_transition(job_id=job.pk, to="processing")
        results = run_together([
            lambda: services.job_transition(job_id=job.pk, to="completed"),
            lambda: services.job_transition(job_id=job.pk, to="cancelled"),
        ])
        assert sum(isinstance(r, Job) for r in results) == 1
        assert sum(isinstance(r, Conflict) for r in results) == 1
        final = Job.objects.get(pk=job.pk)
        assert final.credits_state == ("settled" if final.status == "completed" else "released")
    settled = Job.objects.filter(status="completed").count()
    assert balance(funded_user) == 10 - settled


def test_two_workers_claim_once(funded_user):
    job = services.job_create(owner=JobOwner.for_user(funded_user), prompt="a bonsai pot")
    results = run_together([lambda: services.job_claim(job_id=job.pk, lease_token=uuid.uuid4()) for _ in range(4)])
    assert sum(isinstance(r, Job) for r in results) == 1 and results.count(None) == 3
    assert Job.objects.get(pk=job.pk).attempts == 1


def test_reaper_retries_then_fails_once(funded_user, settings):
    job = services.job_create(owner=JobOwner.for_user(funded_user), prompt="a bonsai pot")
    assert services.job_claim(job_id=job.pk, lease_token=uuid.uuid4())
    Job.objects.filter(pk=job.pk).update(lease_expires_at=timezone.now() - timedelta(seconds=1))
    assert services.job_reap_expired()["retried"] == [str(job.pk)]
    Job.objects.filter(pk=job.pk).update(attempts=settings.PIPELINE_MAX_ATTEMPTS)
    results = run_together([services.job_reap_expired, services.job_reap_expired])
    assert sorted(len(r["failed"]) for r in results) == [0, 1]
    job.refresh_from_db()
    assert job.status == "failed" and job.error_type == "worker_lost" and balance(funded_user) == 10


def test_reaper_requeues_lost_queue_messages_and_fails_stuck_validation(funded_user, settings):
    queued = services.job_create(owner=JobOwner.for_user(funded_user), prompt="a bonsai pot")
    stuck = services.job_create(owner=JobOwner.for_user(funded_user), prompt="a bonsai pot", start=False)
    services.job_transition(job_id=stuck.pk, to="validating")
    old = timezone.now() - timedelta(seconds=10 * settings.PIPELINE_LEASE_SECONDS)
    Job.objects.filter(pk=queued.pk).update(queued_at=old, dispatched_at=old)  # handed to the broker long ago
    Job.objects.filter(pk=stuck.pk).update(updated_at=old)
    outcome = services.job_reap_expired()
    assert outcome == {"retried": [str(queued.pk)], "failed": [str(stuck.pk)]}
    assert Job.objects.get(pk=stuck.pk).error_type == "validation_interrupted"
    assert balance(funded_user) == 9  # the queued job still holds its credit


@pytest.mark.django_db
def test_reaper_is_scheduled_every_minute():
    from django_q.models import Schedule

    schedule = Schedule.objects.get(func="pipeline.tasks.jobs_reap")
    assert schedule.schedule_type == Schedule.MINUTES and schedule.minutes == 1 and schedule.repeats == -1


def test_client_job_left_silent_is_failed_as_abandoned_and_never_run_by_a_worker(auth_client, funded_user, settings):
    from pipeline.queue import shared_broker

    settings.PIPELINE_TIME_LIMITS = {**settings.PIPELINE_TIME_LIMITS, "text_to_3d": 120}
    job_id = auth_client.post("/api/v1/jobs", {"prompt": "a bonsai pot", "engine": "client"}, format="json").json()["id"]
    queued_before = shared_broker().queue_size()
    before = timezone.now()
    assert auth_client.patch(f"/api/v1/jobs/{job_id}/status", {"status": "running"}, format="json").status_code == 200
    job = Job.objects.get(pk=job_id)
    assert job.status == "processing" and job.lease_token is None
    # Nobody renews a client's lease: it lasts the kind's time limit.
    assert before + timedelta(seconds=115) < job.lease_expires_at <= timezone.now() + timedelta(seconds=120)
    assert services.job_claim(job_id=job_id, lease_token=uuid.uuid4()) is None  # no worker takes it

    Job.objects.filter(pk=job_id).update(lease_expires_at=timezone.now() - timedelta(seconds=1))
    assert services.job_reap_expired() == {"retried": [], "failed": [job_id]}
    job.refresh_from_db()
    assert job.status == "failed" and job.error_type == "abandoned" and job.credits_state == "none"
    assert shared_broker().queue_size() == queued_before  # never enqueued


def test_reaper_fails_long_pending_jobs_as_abandoned_once(funded_user, settings):
    old = services.job_create(owner=JobOwner.for_user(funded_user), prompt="a bonsai pot", start=False)
    fresh = services.job_create(owner=JobOwner.for_user(funded_user), prompt="a bonsai pot", start=False)
    assert balance(funded_user) == 8
    Job.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(hours=25))
    assert services.job_reap_expired() == {"retried": [], "failed": [str(old.pk)]}
    old.refresh_from_db()
    assert old.status == "failed" and old.error_type == "abandoned" and old.credits_state == "released"
    assert Job.objects.get(pk=fresh.pk).status == "pending"
    assert balance(funded_user) == 9
    assert services.job_reap_expired() == {"retried": [], "failed": []}  # released exactly once
    assert balance(funded_user) == 9

    settings.PIPELINE_PENDING_MAX_AGE_SECONDS = 60
    Job.objects.filter(pk=fresh.pk).update(created_at=timezone.now() - timedelta(seconds=61))
    assert services.job_reap_expired()["failed"] == [str(fresh.pk)]
    assert balance(funded_user) == 10


def test_reaper_does_not_fail_a_job_whose_lease_was_renewed_meanwhile(funded_user, settings):
    """The reaper reads an expired lease, then waits for the row lock while the worker renews it."""
    job = services.job_create(owner=JobOwner.for_user(funded_user), prompt="a bonsai pot")
    token = uuid.uuid4()
    assert services.job_claim(job_id=job.pk, lease_token=token)
    Job.objects.filter(pk=job.pk).update(
        lease_expires_at=timezone.now() - timedelta(seconds=1), attempts=settings.PIPELINE_MAX_ATTEMPTS,
    )
    outcome = {}

    def reap():
        try:
            outcome["result"] = services.job_reap_expired()
        finally:
            connection.close()

    reaper = threading.Thread(target=reap)
    with transaction.atomic():
        Job.objects.select_for_update().get(pk=job.pk)
        assert services.job_lease_renew(job_id=job.pk, lease_token=token)
        reaper.start()
        with connection.cursor() as cursor:  # until the reaper is blocked on our row lock
            for _ in range(200):
                cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'")
                if cursor.fetchone()[0]:
                    break
                time.sleep(0.025)
            else:
                pytest.fail("the reaper never waited for the row lock")
    reaper.join(timeout=20)
    assert outcome["result"] == {"retried": [], "failed": []}
    job.refresh_from_db()
    assert job.status == "processing" and job.lease_token == token and balance(funded_user) == 9
