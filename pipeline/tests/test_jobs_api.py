import pytest

from chat.models import Session
from mozukai_hub.testing.fixtures import bearer_client, make_user
from pipeline.models import Job, JobEvent

from .conftest import balance, free_credits, grant, spendable


@pytest.mark.django_db
def test_create_seed_shape_with_session(auth_client, funded_user):
    session = Session.objects.create(owner=funded_user, name="Design Session 1")
    response = auth_client.post(
        "/api/v1/jobs", {"session_id": str(session.id), "prompt": "a red chair", "output_format": "glb"}, format="json"
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["session_id"] == str(session.id)
    assert body["kind"] == "text_to_3d" and body["engine"] == "local" and body["output_format"] == "glb"
    assert body["prompt"] == "a red chair" and body["credit_cost"] == 1
    assert [e.data["status"] for e in JobEvent.objects.filter(job_id=body["id"]).order_by("seq")] == [
        "pending", "validating", "queued"]
    listed = auth_client.get(f"/api/v1/jobs?session_id={session.id}")
    assert [j["id"] for j in listed.json()] == [body["id"]]
    assert auth_client.get("/api/v1/jobs?status=queued&kind=text_to_3d").json()[0]["id"] == body["id"]
    assert auth_client.get("/api/v1/jobs?status=completed").json() == []


@pytest.mark.django_db
@pytest.mark.parametrize(
    "payload, code",
    [
        ({"kind": "hologram", "params": {}}, "unknown_kind"),
        ({"prompt": "a pot", "engine": "warp-drive"}, "unknown_engine"),
        ({"kind": "photogrammetry", "params": {}, "engine": "runpod"}, "unknown_engine"),  # no such engine for that kind
        ({"prompt": "a pot", "output_format": "obj"}, "validation_error"),
        ({"prompt": "a pot", "colour": "red"}, "validation_error"),
        ({"kind": "scad_render", "params": {"scad": "import(\"/etc/passwd\");"}}, "validation_error"),
        ({"kind": "scad_render", "params": {"scad": "$fn = 100000; sphere(5);"}}, "validation_error"),
        ({}, "validation_error"),
    ],
)
def test_bad_input_is_400_and_stores_nothing(auth_client, funded_user, settings, payload, code):
    response = auth_client.post("/api/v1/jobs", payload, format="json")
    assert response.status_code == 400, response.content
    assert response.json()["error"]["code"] == code
    assert Job.objects.count() == 0 and JobEvent.objects.count() == 0
    assert (balance(funded_user), free_credits()) == (10, settings.DEFAULT_FREE_CREDITS)  # neither pool touched


@pytest.mark.django_db
def test_not_enough_credits_is_402_and_no_job(auth_client, user, settings):
    # A signed-in user spends the client IP's free credits first: with none granted and no own
    # credits, this caller truly has nothing to spend.
    settings.DEFAULT_FREE_CREDITS = 0
    assert spendable(user) == 0
    response = auth_client.post("/api/v1/jobs", {"prompt": "a bonsai pot 120 mm wide"}, format="json")
    assert response.status_code == 402
    assert response.json()["error"]["code"] == "insufficient_credits"
    assert "1 needed, 0 available" in response.json()["error"]["message"]
    assert Job.objects.count() == 0 and JobEvent.objects.count() == 0
    assert (spendable(user), balance(user), free_credits()) == (0, 0, 0)


@pytest.mark.django_db
def test_free_kind_needs_no_credits(auth_client, user):
    response = auth_client.post("/api/v1/jobs", {"kind": "scad_render", "params": {"scad": "cube(10);"}}, format="json")
    assert response.status_code == 201 and response.json()["credit_cost"] == 0


@pytest.mark.django_db
def test_other_users_session_is_404(auth_client, funded_user, other_user, settings):
    session = Session.objects.create(owner=other_user, name="theirs")
    response = auth_client.post("/api/v1/jobs", {"session_id": str(session.id), "prompt": "a pot"}, format="json")
    assert response.status_code == 404
    assert Job.objects.count() == 0 and (balance(funded_user), free_credits()) == (10, settings.DEFAULT_FREE_CREDITS)


@pytest.mark.django_db
def test_anonymous_cannot_create_or_list(api_client):
    assert api_client.post("/api/v1/jobs", {"prompt": "a pot"}, format="json").status_code == 401
    assert api_client.get("/api/v1/jobs").status_code == 401
    assert Job.objects.count() == 0


@pytest.mark.django_db
def test_list_query_count_is_bounded(django_assert_max_num_queries, settings):
    settings.PIPELINE_MAX_JOBS_IN_FLIGHT = 15  # 15 queued jobs of one owner (the admission cap is 5)
    owner = make_user()
    grant(owner, 100)
    client = bearer_client(owner)
    for _ in range(3):
        client.post("/api/v1/jobs", {"prompt": "a bonsai pot"}, format="json")
    # auth user + session-less count + page + prefetched assets (+ savepoint noise): the same for 3 or 15
    with django_assert_max_num_queries(6):
        assert len(client.get("/api/v1/jobs?page_size=100").json()) == 3
    for _ in range(12):
        client.post("/api/v1/jobs", {"prompt": "a bonsai pot"}, format="json")
    with django_assert_max_num_queries(6):
        response = client.get("/api/v1/jobs?page_size=100")
    assert len(response.json()) == 15 and response["X-Total-Count"] == "15"


@pytest.mark.django_db
def test_events_after(auth_client, funded_user):
    job_id = auth_client.post("/api/v1/jobs", {"prompt": "a bonsai pot"}, format="json").json()["id"]
    events = auth_client.get(f"/api/v1/jobs/{job_id}/events").json()
    assert [e["seq"] for e in events] == [1, 2, 3]
    assert [e["seq"] for e in auth_client.get(f"/api/v1/jobs/{job_id}/events?after=2").json()] == [3]
    assert auth_client.get(f"/api/v1/jobs/{job_id}/events?after=x").status_code == 400


@pytest.mark.django_db
@pytest.mark.parametrize(
    "scad",
    [
        'import/**/("/etc/passwd");',
        'import // a comment between the word and its bracket\n("/etc/passwd");',
        'import_stl("/etc/passwd");',
        'import_dxf(file = "a.dxf");',
        'dxf_linear_extrude("a.dxf", height = 2);',
        'x = dxf_dim(file = "a.dxf", name = "w");',
        'linear_extrude(file = "/etc/passwd", height = 2);',
        'surface("/etc/passwd");',
        'surface (file = "/etc/passwd");',
        "include </etc/passwd>",
        "use </etc/passwd>\ncube(1);",
        "$fn = 1e6; sphere(5);",
        "$fn = 100.5; sphere(5);",
        "n = 1000000; $fn = n; sphere(5);",
        "sphere(5, $fn = 2 * 1000);",
        "sphere(5, $fn = -1);",
        "$fa = 0.001; sphere(5);",
        "$fs = 0.0001; sphere(5);",
        "sphere(5, $fs = s);",
        'echo("unterminated); import("/etc/passwd");',
        "/* unterminated comment import(\"/etc/passwd\");",
    ],
)
def test_scad_that_reads_files_or_runs_away_is_400_and_stores_nothing(auth_client, funded_user, scad):
    response = auth_client.post("/api/v1/jobs", {"kind": "scad_render", "params": {"scad": scad}}, format="json")
    assert response.status_code == 400, response.content
    assert response.json()["error"]["code"] == "validation_error"
    assert Job.objects.count() == 0 and JobEvent.objects.count() == 0
    assert balance(funded_user) == 10


@pytest.mark.django_db
@pytest.mark.parametrize(
    "scad",
    [
        "sphere(5, $fn = 96);",
        "$fa = 1; $fs = 0.1; $fn = 0; sphere(5);",
        '// import("/etc/passwd") is only a comment\ncube(1);',
        '/* use <x.scad> */ cube(1);',
        'echo("import(\\"x\\") // $fn = 1e9"); cube(1);',
        "w = $fn == 0 ? 1 : 2; cube(w);",
    ],
)
def test_harmless_scad_is_accepted(auth_client, funded_user, scad):
    response = auth_client.post("/api/v1/jobs", {"kind": "scad_render", "params": {"scad": scad}}, format="json")
    assert response.status_code == 201, response.content


@pytest.mark.django_db(transaction=True)
def test_channel_layer_down_still_answers_and_enqueues(auth_client, funded_user, settings, caplog):
    """A failing Redis push after commit must not turn a committed change into a 500."""
    import socket

    from pipeline.queue import shared_broker

    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    settings.CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [f"redis://127.0.0.1:{closed_port}/0"], "prefix": "mozukai:ws-down"},
        }
    }
    queued_before = shared_broker().queue_size()
    response = auth_client.post("/api/v1/jobs", {"prompt": "a bonsai pot 120 mm wide"}, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["status"] == "queued"
    assert shared_broker().queue_size() == queued_before + 1
    cancelled = auth_client.post(f"/api/v1/jobs/{response.json()['id']}/cancel")
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    assert (balance(funded_user), free_credits()) == (10, settings.DEFAULT_FREE_CREDITS)  # the hold went back
    assert any("on_commit" in r.getMessage() and r.exc_info for r in caplog.records)  # logged, not swallowed
