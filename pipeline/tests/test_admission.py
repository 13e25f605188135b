"""The job queue is shared (issue 16, item 13): per-owner admission caps (429 + Retry-After,
race-free), fair dispatch to the broker with a queue position, the SCAD CPU budget, and another
user's job starting promptly while one user floods the queue (a real django-q2 worker)."""

from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from billing.services import credits_spendable
from mozukai_hub.api.errors import TooManyRequests
from mozukai_hub.testing.concurrency import run_together
from mozukai_hub.testing.fixtures import bearer_client
from pipeline import services, tasks
from pipeline.engines.scad.cost import scad_cost_estimate
from pipeline.engines.scad.render import scad_code_only, scad_source_check
from pipeline.engines.scad.requirements import requirements_from_prompt
from pipeline.engines.scad.templates import model_from_requirements
from pipeline.models import Job, JobEvent
from pipeline.owners import JobOwner
from pipeline.queue import shared_broker

from .test_worker import status, wait_for, worker  # noqa: F401  (the worker fixture)

SCAD = {"kind": "scad_render", "params": {"scad": "cube(5);"}}


def _post(client, body=None):
    return client.post("/api/v1/jobs", body or SCAD, format="json")


def _spendable(user) -> int:
    return credits_spendable(user=user, client_ip="127.0.0.1")


# --- 1. admission: jobs in flight and per minute, per owner --------------------------------


@pytest.mark.django_db
def test_past_the_jobs_in_flight_cap_is_a_429_with_retry_after_nothing_created_or_charged(auth_client, funded_user, settings):
    settings.PIPELINE_MAX_JOBS_IN_FLIGHT = 2
    first = _post(auth_client, {"prompt": "a bonsai pot"})
    second = _post(auth_client, {"prompt": "a bonsai pot", "start": False})  # pending counts too
    assert first.status_code == second.status_code == 201
    jobs, events, spendable = Job.objects.count(), JobEvent.objects.count(), _spendable(funded_user)

    refused = _post(auth_client, {"prompt": "a bonsai pot"})
    assert refused.status_code == 429, refused.content
    assert refused["Retry-After"] == "5"
    error = refused.json()["error"]
    assert error["code"] == "too_many_jobs_in_flight" and error["retry_after"] == 5
    assert error["limit"] == 2 and error["in_flight"] == 2 and "2" in error["message"]
    assert set(refused.json()) == {"error"}
    assert (Job.objects.count(), JobEvent.objects.count(), _spendable(funded_user)) == (jobs, events, spendable)

    # Any kind, any engine the server runs: the cap is the service's, not one route's.
    with pytest.raises(TooManyRequests):
        services.job_create(owner=JobOwner.for_user(funded_user), kind="scad_render", params={"scad": "cube(1);"})
    # An ended job frees its place.
    assert auth_client.post(f"/api/v1/jobs/{first.json()['id']}/cancel").status_code == 200
    assert _post(auth_client).status_code == 201


@pytest.mark.django_db
def test_the_cap_is_per_owner_and_client_worked_jobs_are_not_in_flight(auth_client, user, other_user, settings):
    settings.PIPELINE_MAX_JOBS_IN_FLIGHT = 1
    assert _post(auth_client).status_code == 201
    assert _post(auth_client).status_code == 429
    # The owner runs a client-worked job itself: no worker, no broker, so no place in flight.
    client_job = _post(auth_client, {"prompt": "a chair", "engine": "client"})
    assert client_job.status_code == 201 and client_job.json()["status"] == "queued"
    assert _post(bearer_client(other_user)).status_code == 201  # another user is not affected


@pytest.mark.django_db
def test_past_the_per_minute_cap_is_a_429_until_the_minute_has_passed(auth_client, user, settings):
    settings.PIPELINE_MAX_JOBS_IN_FLIGHT = 0  # off: only the rate is tested here
    settings.PIPELINE_MAX_JOBS_PER_MINUTE = 3
    created = [_post(auth_client, {"prompt": "a chair", "engine": "client"}) for _ in range(3)]
    assert [r.status_code for r in created] == [201] * 3
    refused = _post(auth_client)
    assert refused.status_code == 429
    assert refused.json()["error"]["code"] == "too_many_jobs_per_minute"
    assert 1 <= int(refused["Retry-After"]) <= 60 and refused.json()["error"]["retry_after"] == int(refused["Retry-After"])
    assert Job.objects.count() == 3
    # The oldest leaves the window: one more may be created, and then the cap holds again.
    oldest = Job.objects.order_by("created_at").first()
    Job.objects.filter(pk=oldest.pk).update(created_at=timezone.now() - timedelta(seconds=61))
    assert _post(auth_client).status_code == 201
    assert _post(auth_client).status_code == 429


@pytest.mark.django_db
@pytest.mark.parametrize("same, other, subject", [
    (["198.51.100.7", "198.51.100.7", "198.51.100.7"], "198.51.100.8", "198.51.100.7"),
    # One IPv6 /64 is one visitor (`client_ip_subject`): three addresses in it share the count.
    (["2001:db8:1:2::1", "2001:db8:1:2:ffff::2", "2001:db8:1:2::3"], "2001:db8:1:3::1", "2001:db8:1:2::"),
])
def test_anonymous_visitors_are_capped_per_client_ip(settings, same, other, subject):
    settings.PIPELINE_MAX_JOBS_IN_FLIGHT = 2

    def create(ip):
        return services.job_create(owner=JobOwner(user=None, client_ip=ip), kind="scad_render", params={"scad": "cube(1);"})

    create(same[0])
    create(same[1])
    with pytest.raises(TooManyRequests) as refused:
        create(same[2])
    assert refused.value.status_code == 429 and refused.value.code == "too_many_jobs_in_flight"
    assert Job.objects.filter(visitor_ip=subject).count() == 2
    create(other)  # another visitor has its own count
    assert Job.objects.count() == 3


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("cap_setting", ["PIPELINE_MAX_JOBS_IN_FLIGHT", "PIPELINE_MAX_JOBS_PER_MINUTE"])
@pytest.mark.parametrize("anonymous", [False, True])
def test_concurrent_creates_of_one_owner_never_pass_the_cap(user, settings, cap_setting, anonymous):
    assert connection.vendor == "postgresql"
    settings.PIPELINE_MAX_JOBS_IN_FLIGHT = 0
    settings.PIPELINE_MAX_JOBS_PER_MINUTE = 0
    setattr(settings, cap_setting, 3)
    owner = JobOwner(user=None, client_ip="203.0.113.9") if anonymous else JobOwner.for_user(user)

    def create():
        return services.job_create(owner=owner, kind="scad_render", params={"scad": "cube(1);"})

    results = run_together([create] * 8)
    assert sum(isinstance(r, Job) for r in results) == 3, results
    assert sum(isinstance(r, TooManyRequests) for r in results) == 5, results
    assert Job.objects.count() == 3


# --- 2. fair dispatch and the queue position -------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_an_owner_has_one_job_in_the_broker_the_others_wait_in_order(user, other_user, settings):
    settings.PIPELINE_MAX_DISPATCHED_PER_OWNER = 1
    mine, theirs = bearer_client(user), bearer_client(other_user)
    broker = shared_broker()
    before = broker.queue_size()
    a1, a2, a3 = (_post(mine).json() for _ in range(3))
    b1 = _post(theirs).json()
    assert broker.queue_size() == before + 2  # a1 and b1; a2 and a3 wait in the database
    assert [Job.objects.get(pk=j["id"]).dispatched_at is not None for j in (a1, a2, a3, b1)] == [True, False, False, True]
    assert [j["status"] for j in (a1, a2, a3, b1)] == ["queued"] * 4
    assert [j["queue_position"] for j in (a1, a2, a3, b1)] == [0, 1, 2, 0]
    assert [j["queue_position"] for j in mine.get("/api/v1/jobs").json()] == [2, 1, 0]
    queued_event = JobEvent.objects.get(job_id=a3["id"], type="status", data__status="queued")
    assert queued_event.data["queue_position"] == 2

    # a1 runs (in this process): a2 moves up and, a1 ended, is handed to the broker; a3 stays.
    assert tasks.job_run(a1["id"]) == "completed"
    assert broker.queue_size() == before + 3
    assert Job.objects.get(pk=a2["id"]).dispatched_at is not None and Job.objects.get(pk=a3["id"]).dispatched_at is None
    moved = [(e.job_id, e.data["queue_position"]) for e in JobEvent.objects.filter(type="progress", data__stage="queued")]
    assert sorted((str(job_id), position) for job_id, position in moved) == sorted([(a2["id"], 0), (a3["id"], 1)])
    assert mine.get(f"/api/v1/jobs/{a3['id']}").json()["queue_position"] == 1
    assert mine.get(f"/api/v1/jobs/{a1['id']}").json()["queue_position"] is None

    # A cancelled waiting job is never dispatched; the one behind it moves up.
    assert mine.post(f"/api/v1/jobs/{a2['id']}/cancel").json()["status"] == "cancelled"
    assert Job.objects.get(pk=a3["id"]).dispatched_at is not None
    assert mine.get(f"/api/v1/jobs/{a3['id']}").json()["queue_position"] == 0


@pytest.mark.django_db(transaction=True)
def test_the_reaper_dispatches_what_a_lost_hook_left_waiting(user, settings):
    settings.PIPELINE_MAX_DISPATCHED_PER_OWNER = 1
    owner = JobOwner.for_user(user)
    first = services.job_create(owner=owner, kind="scad_render", params={"scad": "cube(1);"})
    waiting = services.job_create(owner=owner, kind="scad_render", params={"scad": "cube(1);"})
    # The first ends without its after-commit dispatch (its process died right after the commit).
    old = timezone.now() - timedelta(seconds=10 * settings.PIPELINE_LEASE_SECONDS)
    Job.objects.filter(pk=first.pk).update(status="cancelled", finished_at=timezone.now())
    Job.objects.filter(pk=waiting.pk).update(queued_at=old)
    assert Job.objects.get(pk=waiting.pk).dispatched_at is None
    assert services.job_reap_expired() == {"retried": [str(waiting.pk)], "failed": []}
    assert Job.objects.get(pk=waiting.pk).dispatched_at is not None
    assert services.job_reap_expired() == {"retried": [], "failed": []}  # dispatched once


# --- 3. the SCAD CPU budget ------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    "scad",
    [
        "for (i = [0:60]) for (j = [0:60]) translate([i * 3, j * 3, 0]) sphere(r = 2, $fn = 96);",
        "for (i = [0:9]) for (j = [0:9]) translate([i * 3, j * 3, 0]) sphere(r = 2, $fn = 96);",
        "for (i = [0 : 0.001 : 100]) cube(1);",
        "n = 1e6; for (i = [0 : n]) translate([i, 0, 0]) cube(1);",
        "for (i = [0:9], j = [0:9]) translate([i * 20, j * 20, 0]) minkowski() { cube(10); sphere(2, $fn = 64); }",
        "module grid(n) { for (i = [0:n]) for (j = [0:n]) translate([i, j, 0]) cylinder(r = 1, h = 2, $fn = 32); } grid(3);",
        "points = [for (i = [0 : 1e8]) [i, i]]; cube(1);",
        "for (i = [0 : 1 / 0]) cube(1);",
        "".join(f"module m{i}() {{ m{i + 1}(); m{i + 1}(); }}\n" for i in range(30)) + "module m30() { cube(1); }\nm0();",
    ],
)
def test_scad_over_the_cpu_budget_is_400_on_the_scad_field_with_the_estimate(auth_client, user, scad):
    response = _post(auth_client, {"kind": "scad_render", "params": {"scad": scad}})
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    [message] = [m for m in error["fields"]["scad"] if "budget" in m]
    estimate = scad_cost_estimate(scad_code_only(scad))
    assert f"{estimate:,}" in message and "100,000" in message
    assert Job.objects.count() == 0 and JobEvent.objects.count() == 0


@pytest.mark.django_db
@pytest.mark.parametrize(
    "scad",
    [
        "for (i = [0:9]) translate([i * 12, 0, 0]) cube(10);",
        "sphere(5, $fn = 96);",
        "$fa = 1; $fs = 0.1; $fn = 0; sphere(5);",
        "minkowski() { cube(10); sphere(2, $fn = 64); }",
        "module holes(n) { for (i = [0:n - 1]) translate([i * 5, 0, -1]) cylinder(d = 3, h = 12, $fn = 24); }\n"
        "difference() { cube([60, 10, 10]); holes(8); }",
        "cube([20, 10, 5]",  # broken: OpenSCAD says why when it runs (within the budget)
    ],
)
def test_scad_within_the_budget_is_accepted(auth_client, user, scad):
    assert _post(auth_client, {"kind": "scad_render", "params": {"scad": scad}}).status_code == 201


def test_the_estimate_multiplies_loops_fragments_and_minkowski():
    def cost(source):
        return scad_cost_estimate(scad_code_only(source))

    sphere32 = 32 * 16
    assert cost("sphere(1, $fn = 32);") == sphere32  # one shape: no boolean work
    assert cost("for (i = [0:9]) translate([i, 0, 0]) sphere(1, $fn = 32);") == 10 * sphere32 * 10
    assert cost("for (i = [0:2:18]) for (j = [1, 2, 3]) translate([i, j, 0]) sphere(1, $fn = 32);") == 30 * sphere32 * 10
    assert cost("n = 4; for (i = [0 : max(n, 1) - 1]) cylinder(r = 1, h = 1, $fn = 30);") == 4 * 32 * 10
    assert cost("$fn = 64; cylinder(r = 1, h = 1); cube(1);") == (66 + 6) * 10
    assert cost("sphere(1);") == 30 * 15  # $fn unset: 360 / $fa (12) fragments, whatever the radius
    assert cost("module m(n) { for (i = [0:n]) cube(1); } m(3);") == 100 * 6 * 10  # unknown bound: 100
    assert cost("minkowski() { cube(1); sphere(1, $fn = 32); }") == (6 + sphere32) * 20
    assert cost("rotate_extrude($fn = 40) polygon([[1, 0], [2, 0], [2, 1]]);") == 3 * 40
    assert cost("if (x) cube(1); else sphere(1, $fn = 32);") == sphere32


def test_every_template_is_well_within_the_budget(settings):
    prompts = ["a bonsai pot 600 mm wide with 5 drainage holes", "rectangular bonsai pot 150 mm wide 50 mm tall",
               "planter tray 200 mm wide", "enclosure box 80x50x30 mm", "bracket 40 mm wide",
               "quadcopter frame 160 mm motor-to-motor", "a red chair", "a table", "a bookcase with 5 shelves",
               "a vase", "a coffee mug"]
    for prompt in prompts:
        scad = model_from_requirements(requirements_from_prompt(prompt)).scad
        assert scad_cost_estimate(scad_code_only(scad)) * 5 < settings.OPENSCAD_MAX_COST, prompt
        assert scad_source_check(scad) == [], prompt


def test_the_budget_is_a_setting(settings):
    heavy = "for (i = [0:9]) for (j = [0:9]) sphere(1, $fn = 96);"
    assert any("budget" in problem for problem in scad_source_check(heavy))
    settings.OPENSCAD_MAX_COST = 10**8
    assert scad_source_check(heavy) == []


# --- 4. another user's job starts promptly while one user floods the queue ------------------


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_another_users_job_starts_before_the_flooders_queue(worker, user, other_user, settings):  # noqa: F811
    settings.PIPELINE_MAX_DISPATCHED_PER_OWNER = 1
    worker.env.update(PIPELINE_MAX_DISPATCHED_PER_OWNER="1", Q_WORKERS="1")
    worker.start()
    flooder, other = bearer_client(user), bearer_client(other_user)
    slow = {"kind": "scad_render", "engine": "slow_test", "params": {"scad": "cube(5);", "prompt": "8"}}  # ~2 s each
    flood = [_post(flooder, slow) for _ in range(settings.PIPELINE_MAX_JOBS_IN_FLIGHT)]
    assert [r.status_code for r in flood] == [201] * settings.PIPELINE_MAX_JOBS_IN_FLIGHT
    assert _post(flooder, slow).status_code == 429  # the flooder is at its cap
    ids = [r.json()["id"] for r in flood]
    wait_for(lambda: status(ids[0]) != "queued", timeout=30)  # the worker is up and busy with the flood
    theirs = _post(other, slow)
    assert theirs.status_code == 201
    wait_for(lambda: all(status(i) == "completed" for i in [*ids, theirs.json()["id"]]), timeout=120)

    a = [Job.objects.get(pk=i) for i in ids]
    b = Job.objects.get(pk=theirs.json()["id"])
    assert [job.started_at for job in a] == sorted(job.started_at for job in a)  # the flooder's, in order
    # The other user's job waited for at most the flooder's job that was running: it started
    # before the flooder's second, third… ones, instead of after all of them.
    assert b.started_at < a[1].started_at
    one_run = max(job.finished_at - job.started_at for job in a)
    assert b.started_at - b.created_at < one_run + timedelta(seconds=3)
