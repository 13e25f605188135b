"""The worker's lease keeper when the database refuses the renewal (a real PostgreSQL error)."""

import time
import uuid
from contextlib import contextmanager
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from pipeline import services
from pipeline.models import Job
from pipeline.owners import JobOwner
from pipeline.runner import LeaseKeeper

pytestmark = pytest.mark.django_db(transaction=True)


@contextmanager
def database_refuses_job_updates():
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE FUNCTION test_refuse_job_update() RETURNS trigger AS $$ "
            "BEGIN RAISE EXCEPTION 'job updates refused by the test'; END $$ LANGUAGE plpgsql"
        )
        cursor.execute(
            "CREATE TRIGGER test_refuse_job_update BEFORE UPDATE ON pipeline_job "
            "FOR EACH ROW EXECUTE FUNCTION test_refuse_job_update()"
        )
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute("DROP TRIGGER test_refuse_job_update ON pipeline_job")
            cursor.execute("DROP FUNCTION test_refuse_job_update()")


def _claimed(user):
    job = services.job_create(owner=JobOwner.for_user(user), prompt="a bonsai pot")
    token = uuid.uuid4()
    assert services.job_claim(job_id=job.pk, lease_token=token)
    return job, token


def test_keeper_marks_the_lease_lost_when_renewal_keeps_failing(funded_user, settings):
    settings.PIPELINE_LEASE_SECONDS = 1
    job, token = _claimed(funded_user)
    keeper = LeaseKeeper(job.pk, token)
    with database_refuses_job_updates():
        started = time.monotonic()
        keeper.start()
        assert keeper.lost.wait(timeout=5), "the keeper died or kept going without flagging the lease lost"
        assert time.monotonic() - started >= 0.9  # it retried until the lease would have expired
        keeper.join(timeout=5)
        assert not keeper.is_alive()


def test_keeper_survives_a_passing_database_error(funded_user, settings):
    settings.PIPELINE_LEASE_SECONDS = 3
    job, token = _claimed(funded_user)
    keeper = LeaseKeeper(job.pk, token)
    try:
        with database_refuses_job_updates():
            keeper.start()
            time.sleep(1.3)  # one renewal (every 1 s) fails
        time.sleep(1.5)  # the next one succeeds
        assert keeper.is_alive() and not keeper.lost.is_set()
        assert Job.objects.get(pk=job.pk).lease_expires_at > timezone.now() + timedelta(seconds=1)
    finally:
        keeper.stopped.set()
        keeper.join(timeout=5)

