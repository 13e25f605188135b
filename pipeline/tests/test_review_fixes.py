"""Defects found in review of the job pipeline, each pinned by a test that failed before its fix."""

import json
import uuid
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone
from django_q.models import Task

from accounts.services import user_delete
from mozukai_hub.client_ip import client_ip_subject
from pipeline import services
from pipeline.models import Job
from pipeline.owners import JobOwner
from pipeline.transitions import TERMINAL, client_transitions

from .test_worker import wait_for, worker  # noqa: F401  (the worker fixture)

# --- 1. a client-worked job reaches validating/queued only through moderation -----------------


@pytest.mark.django_db
def test_the_owner_cannot_patch_a_client_job_past_moderation(auth_client, user, settings):
    settings.MODERATION_BACKEND = "local"
    job_id = auth_client.post("/api/v1/jobs", {"prompt": "a pot shaped like a swastika", "engine": "client",
                                               "start": False}, format="json").json()["id"]
    listed = auth_client.get(f"/api/v1/jobs/{job_id}/valid-transitions").json()["valid_transitions"]
    assert listed == ["failed", "cancelled"]
    for target in ("validating", "queued", "Queued"):
        response = auth_client.patch(f"/api/v1/jobs/{job_id}/status", {"status": target}, format="json")
        assert response.status_code == 409, (target, response.content)
        assert response.json()["error"]["code"] == "invalid_transition"
        assert response.json()["error"]["valid_transitions"] == listed
    job = Job.objects.get(pk=job_id)
    assert job.status == "pending" and not job.moderation and job.queued_at is None
    # Neither can a later start be skipped: POST …/start moderates, and refuses this prompt.
    started = auth_client.post(f"/api/v1/jobs/{job_id}/start").json()
    assert started["status"] == "failed"
    assert Job.objects.get(pk=job_id).error_type == "moderation"


@pytest.mark.django_db
def test_a_validating_client_job_cannot_be_patched_to_queued(auth_client, user):
    job_id = auth_client.post("/api/v1/jobs", {"prompt": "a chair", "engine": "client", "start": False},
                              format="json").json()["id"]
    services.job_transition(job_id=job_id, to="validating")  # a request mid-moderation
    assert auth_client.get(f"/api/v1/jobs/{job_id}/valid-transitions").json()["valid_transitions"] == [
        "failed", "cancelled"]
    assert auth_client.patch(f"/api/v1/jobs/{job_id}/status", {"status": "queued"}, format="json").status_code == 409
    assert Job.objects.get(pk=job_id).status == "validating"


def test_client_transitions_never_offer_what_only_moderation_sets():
    for current in ("pending", "validating", "queued", "processing"):
        assert not {"validating", "queued"} & set(client_transitions(current, client_worked=True))
    assert client_transitions("queued", client_worked=True)[0] == "processing"


# --- 2. no claim after the deadline; one re-send per lease period ------------------------------


def _claimed_then_lost(owner) -> Job:
    job = services.job_create(owner=owner, prompt="a bonsai pot")
    assert services.job_claim(job_id=job.pk, lease_token=uuid.uuid4())
    Job.objects.filter(pk=job.pk).update(lease_expires_at=timezone.now() - timedelta(seconds=1))
    return job


@pytest.mark.django_db
def test_a_run_past_its_deadline_is_not_claimed_again_but_failed_as_timeout(funded_user):
    job = _claimed_then_lost(JobOwner.for_user(funded_user))
    deadline = timezone.now() - timedelta(seconds=1)
    Job.objects.filter(pk=job.pk).update(deadline_at=deadline)
    assert services.job_claim(job_id=job.pk, lease_token=uuid.uuid4()) is None
    job.refresh_from_db()
    assert job.attempts == 1 and job.deadline_at == deadline  # no new time limit
    assert services.job_reap_expired()["failed"] == [str(job.pk)]
    job.refresh_from_db()
    assert job.status == "failed" and job.error_type == "timeout" and job.credits_state == "released"


@pytest.mark.django_db
def test_a_lost_run_is_sent_again_once_per_lease_period(funded_user, settings):
    job = _claimed_then_lost(JobOwner.for_user(funded_user))
    assert services.job_reap_expired()["retried"] == [str(job.pk)]
    # While it waits for a worker, the next passes do not pile up more messages …
    assert services.job_reap_expired()["retried"] == []
    assert services.job_reap_expired()["retried"] == []
    # … until a whole lease period has passed (that message was lost too).
    sent_at = Job.objects.get(pk=job.pk).dispatched_at
    Job.objects.filter(pk=job.pk).update(dispatched_at=sent_at - timedelta(seconds=settings.PIPELINE_LEASE_SECONDS + 1))
    assert services.job_reap_expired()["retried"] == [str(job.pk)]
    assert services.job_reap_expired()["retried"] == []
    # The message that arrives takes the job as a second attempt.
    claimed = services.job_claim(job_id=job.pk, lease_token=uuid.uuid4())
    assert claimed is not None and claimed.attempts == 2


# --- 3. a job deleted with its owner's account while a worker runs it --------------------------


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_job_deleted_with_its_owner_while_running_aborts_quietly(worker, auth_client, funded_user):  # noqa: F811
    worker.start()
    job_id = auth_client.post(
        "/api/v1/jobs", {"kind": "scad_render", "engine": "orphan_test", "params": {"scad": "cube(5);"}}, format="json",
    ).json()["id"]
    wait_for(lambda: Job.objects.filter(pk=job_id, status="processing", progress__gte=1).exists())
    user_delete(user=funded_user)
    assert not Job.objects.filter(pk=job_id).exists()
    wait_for(lambda: Task.objects.filter(name=f"job:{job_id}").exists())
    task = Task.objects.get(name=f"job:{job_id}")
    assert (task.success, task.result) == (True, "aborted"), task.result


# --- 4. one IPv6 /64 is one visitor ------------------------------------------------------------


def test_the_subject_of_an_address():
    assert client_ip_subject("198.51.100.7") == "198.51.100.7"
    assert client_ip_subject("2001:db8:1:2:aaaa:bbbb:cccc:dddd") == "2001:db8:1:2::"
    assert client_ip_subject("2001:DB8:1:2::") == "2001:db8:1:2::"
    assert client_ip_subject("2001:db8:1:3::1") == "2001:db8:1:3::"
    assert client_ip_subject("::ffff:198.51.100.7") == "198.51.100.7"


# --- 5. the job page's script learns the terminal statuses from the server ---------------------


@pytest.mark.django_db
def test_the_job_page_passes_the_terminal_statuses(user):
    client = Client()
    client.force_login(user)
    job = services.job_create(owner=JobOwner.for_user(user), kind="scad_render", params={"scad": "cube(1);"},
                              engine="client")
    page = client.get(f"/jobs/{job.id}/").content.decode()
    start = page.index('data-terminal-statuses="') + len('data-terminal-statuses="')
    value = page[start: page.index('"', start)].replace("&quot;", '"')
    assert set(json.loads(value)) == TERMINAL
