import pytest

from pipeline.models import Job, JobEvent
from pipeline.transitions import TRANSITIONS, can_transition, normalize_status

from .conftest import balance, free_credits, spendable


def test_table_walks_forward_and_ends_anywhere():
    assert TRANSITIONS["pending"] == ["validating", "failed", "cancelled"]
    assert TRANSITIONS["queued"] == ["processing", "failed", "cancelled"]
    assert "completed" in TRANSITIONS["processing"] and "composing" in TRANSITIONS["processing"]
    assert "processing" not in TRANSITIONS["composing"]  # never backwards
    for terminal in ("completed", "failed", "cancelled"):
        assert TRANSITIONS[terminal] == []
    assert not can_transition("pending", "completed")
    assert normalize_status("RUNNING") == "processing"
    assert normalize_status("Queued") == "queued"
    assert normalize_status("bogus") is None


@pytest.mark.django_db
def test_seed_flow_patch_running_then_complete_on_a_client_job(auth_client, funded_user):
    """Seed 001's flow: a job the client works (engine `client`) is walked by its owner."""
    created = auth_client.post("/api/v1/jobs", {"prompt": "a bonsai pot 120 mm wide", "output_format": "glb",
                                                "engine": "client"}, format="json")
    assert created.status_code == 201, created.content
    job_id = created.json()["id"]
    assert created.json()["status"] == "queued" and created.json()["engine"] == "client"
    assert created.json()["cost_credits"] == 0 and balance(funded_user) == 10  # the server computes nothing

    running = auth_client.patch(f"/api/v1/jobs/{job_id}", {"status": "running"}, format="json")
    assert running.status_code == 200 and running.json()["status"] == "processing"
    again = auth_client.patch(f"/api/v1/jobs/{job_id}/status", {"status": "Processing"}, format="json")
    assert again.status_code == 200  # the same status again is a no-op

    transitions = auth_client.get(f"/api/v1/jobs/{job_id}/valid-transitions").json()
    assert transitions["current_status"] == "processing"
    assert transitions["valid_transitions"] == TRANSITIONS["processing"]

    done = auth_client.post(f"/api/v1/jobs/{job_id}/complete?success=true")
    assert done.status_code == 200 and done.json()["status"] == "completed"
    assert done.json()["progress"] == 100 and done.json()["valid_transitions"] == []
    job = Job.objects.get(pk=job_id)
    assert job.credits_state == "none" and job.finished_at

    # Terminal: nothing moves any more, and nothing is written.
    events = JobEvent.objects.filter(job=job).count()
    for call in (
        lambda: auth_client.post(f"/api/v1/jobs/{job_id}/cancel"),
        lambda: auth_client.patch(f"/api/v1/jobs/{job_id}/status", {"status": "failed"}, format="json"),
        lambda: auth_client.post(f"/api/v1/jobs/{job_id}/complete?success=false"),
    ):
        response = call()
        assert response.status_code == 409
        assert response.json()["error"]["code"] == "invalid_transition"
    assert JobEvent.objects.filter(job=job).count() == events
    assert Job.objects.get(pk=job_id).status == "completed"


@pytest.mark.django_db
def test_cancel_releases_hold_once(auth_client, funded_user, settings):
    # Both pools: the client IP's free credits (spent first) and the user's own 10.
    settings.DEFAULT_FREE_CREDITS = 3
    assert (spendable(funded_user), free_credits(), balance(funded_user)) == (13, 3, 10)
    job_id = auth_client.post("/api/v1/jobs", {"prompt": "a bonsai pot"}, format="json").json()["id"]
    assert (spendable(funded_user), free_credits(), balance(funded_user)) == (12, 2, 10)  # held from the free pool
    response = auth_client.post(f"/api/v1/jobs/{job_id}/cancel")
    assert response.status_code == 200 and response.json()["status"] == "cancelled"
    assert (spendable(funded_user), free_credits(), balance(funded_user)) == (13, 3, 10)  # back where it came from
    assert auth_client.post(f"/api/v1/jobs/{job_id}/cancel").status_code == 409
    assert (spendable(funded_user), free_credits(), balance(funded_user)) == (13, 3, 10)


@pytest.mark.django_db
def test_complete_failure_of_a_client_job(auth_client, funded_user):
    job_id = auth_client.post("/api/v1/jobs", {"prompt": "a bonsai pot", "engine": "client"}, format="json").json()["id"]
    auth_client.patch(f"/api/v1/jobs/{job_id}/status", {"status": "running"}, format="json")
    failed = auth_client.post(f"/api/v1/jobs/{job_id}/complete?success=false")
    assert failed.json()["status"] == "failed" and failed.json()["error_type"] == "client"
    assert balance(funded_user) == 10


@pytest.mark.django_db
def test_transitions_not_in_table_are_refused(auth_client, funded_user):
    job_id = auth_client.post("/api/v1/jobs", {"prompt": "a bonsai pot", "start": False}, format="json").json()["id"]
    assert Job.objects.get(pk=job_id).status == "pending"
    for target in ("completed", "processing", "composing"):
        response = auth_client.patch(f"/api/v1/jobs/{job_id}/status", {"status": target}, format="json")
        assert response.status_code == 409, target
        assert response.json()["error"]["valid_transitions"] == ["cancelled"]  # a server engine runs it
    bad = auth_client.patch(f"/api/v1/jobs/{job_id}/status", {"status": "exploded"}, format="json")
    assert bad.status_code == 400
    assert auth_client.post(f"/api/v1/jobs/{job_id}/complete?success=maybe").status_code == 400
    assert Job.objects.get(pk=job_id).status == "pending"
    started = auth_client.post(f"/api/v1/jobs/{job_id}/start")
    assert started.status_code == 200 and started.json()["status"] == "queued"
    assert auth_client.post(f"/api/v1/jobs/{job_id}/start").json()["status"] == "queued"  # idempotent


@pytest.mark.django_db
def test_other_users_job_is_404_and_unchanged(auth_client, funded_user, other_user, api_client):
    from mozukai_hub.testing.fixtures import bearer_client

    job_id = auth_client.post("/api/v1/jobs", {"prompt": "a bonsai pot"}, format="json").json()["id"]
    intruder = bearer_client(other_user)
    for method, path in [
        ("get", f"/api/v1/jobs/{job_id}"),
        ("post", f"/api/v1/jobs/{job_id}/start"),
        ("post", f"/api/v1/jobs/{job_id}/cancel"),
        ("post", f"/api/v1/jobs/{job_id}/complete?success=true"),
        ("patch", f"/api/v1/jobs/{job_id}/status"),
        ("patch", f"/api/v1/jobs/{job_id}"),
        ("get", f"/api/v1/jobs/{job_id}/download-url"),
        ("get", f"/api/v1/jobs/{job_id}/valid-transitions"),
        ("get", f"/api/v1/jobs/{job_id}/events"),
    ]:
        body = {"status": "cancelled"} if method == "patch" else None
        assert getattr(intruder, method)(path, body, format="json").status_code == 404, path
        assert getattr(api_client, method)(path, body, format="json").status_code == 401, path
    assert Job.objects.get(pk=job_id).status == "queued"
    assert intruder.get("/api/v1/jobs").json() == []


@pytest.mark.django_db(transaction=True)
def test_patch_cannot_skip_moderation_to_queued(auth_client, funded_user, settings):
    """POST start:false, then PATCH validating/queued must not enqueue an unmoderated prompt."""
    from pipeline.queue import shared_broker

    settings.MODERATION_BACKEND = "local"
    broker = shared_broker()
    job_id = auth_client.post("/api/v1/jobs", {"prompt": "a bonsai pot", "start": False}, format="json").json()["id"]
    events = JobEvent.objects.filter(job_id=job_id).count()
    queued_before = broker.queue_size()
    for target in ("validating", "queued", "Queued", "pending"):
        for path in (f"/api/v1/jobs/{job_id}/status", f"/api/v1/jobs/{job_id}"):
            response = auth_client.patch(path, {"status": target}, format="json")
            assert response.status_code == 409, (target, response.content)
            assert response.json()["error"]["code"] == "invalid_transition"
    job = Job.objects.get(pk=job_id)
    assert job.status == "pending" and job.queued_at is None
    assert JobEvent.objects.filter(job_id=job_id).count() == events
    assert broker.queue_size() == queued_before
    # The moderated way in still works, and is what enqueues.
    assert auth_client.post(f"/api/v1/jobs/{job_id}/start").json()["status"] == "queued"
    assert broker.queue_size() == queued_before + 1


@pytest.mark.django_db(transaction=True)
def test_patch_cannot_move_a_validating_job_to_queued(auth_client, funded_user):
    from pipeline import services
    from pipeline.queue import shared_broker

    job_id = auth_client.post("/api/v1/jobs", {"prompt": "a bonsai pot", "start": False}, format="json").json()["id"]
    services.job_transition(job_id=job_id, to="validating")  # a request mid-moderation
    queued_before = shared_broker().queue_size()
    response = auth_client.patch(f"/api/v1/jobs/{job_id}/status", {"status": "queued"}, format="json")
    assert response.status_code == 409
    assert Job.objects.get(pk=job_id).status == "validating"
    assert shared_broker().queue_size() == queued_before
