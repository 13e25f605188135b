"""An anonymous visitor reads its job and the job's outputs with its token, over HTTP and the
websocket; nobody without that token can, and a wrong token looks exactly like a missing job."""

import uuid

import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from channels.testing import WebsocketCommunicator
from rest_framework.test import APIClient

from accounts.tokens import token_pair_issue
from accounts.websocket import CLOSE_UNAUTHORIZED, WebsocketAuthMiddleware
from mozukai_hub.asgi import application
from mozukai_hub.testing.fixtures import bearer_client
from pipeline import services
from pipeline.models import Job
from pipeline.owners import JobOwner

VISITOR_IP = "203.0.113.5"
STL = b"solid pot\nendsolid pot\n"


def _visitor_job(start: bool = True) -> Job:
    return services.job_create(owner=JobOwner(user=None, client_ip=VISITOR_IP),
                               prompt="a bonsai pot 120 mm wide, 40 mm tall", output_format="glb", start=start)


def _with_output(job: Job, tmp_path) -> Job:
    path = tmp_path / f"{job.pk}.stl"
    path.write_bytes(STL)
    services.asset_output_store(job=job, path=path, asset_type="stl", primary=True)
    return job


def _header(token: str) -> dict:
    return {"HTTP_X_VISITOR_TOKEN": token}


def _read_routes(job: Job) -> list[str]:
    asset = job.assets.get()
    return [f"/api/v1/jobs/{job.pk}", f"/api/v1/jobs/{job.pk}/events", f"/api/v1/jobs/{job.pk}/download-url",
            f"/api/v1/assets?job_id={job.pk}", f"/api/v1/assets/{asset.pk}/download-url"]


# --- HTTP -----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_visitor_reads_its_job_and_outputs_with_the_header_or_the_query(tmp_path):
    job = _with_output(_visitor_job(), tmp_path)
    token = job.visitor_token
    anonymous = APIClient()

    detail = anonymous.get(f"/api/v1/jobs/{job.pk}", **_header(token))
    assert detail.status_code == 200, detail.content
    assert detail.json()["id"] == str(job.pk) and detail.json()["user_id"] is None
    assert detail.json()["assets"][0]["asset_type"] == "stl"
    assert anonymous.get(f"/api/v1/jobs/{job.pk}?visitor_token={token}").json()["id"] == str(job.pk)

    last = Job.objects.get(pk=job.pk).last_event_seq
    events = anonymous.get(f"/api/v1/jobs/{job.pk}/events", **_header(token))
    assert events.status_code == 200 and [e["seq"] for e in events.json()] == list(range(1, last + 1))
    later = anonymous.get(f"/api/v1/jobs/{job.pk}/events?after=1", **_header(token)).json()
    assert [e["seq"] for e in later] == list(range(2, last + 1))

    assets = anonymous.get(f"/api/v1/assets?job_id={job.pk}", **_header(token))
    assert assets.status_code == 200 and [a["job_id"] for a in assets.json()] == [str(job.pk)]
    asset_id = assets.json()[0]["id"]

    # The signed links these answer download for anyone holding them, without any credential.
    for route in (f"/api/v1/jobs/{job.pk}/download-url", f"/api/v1/assets/{asset_id}/download-url"):
        link = anonymous.get(route, **_header(token))
        assert link.status_code == 200, link.content
        assert link.json()["asset_id"] == asset_id
        download = APIClient().get(link.json()["url"])
        assert download.status_code == 200 and b"".join(download.streaming_content) == STL
    by_query = anonymous.get(f"/api/v1/jobs/{job.pk}/download-url?visitor_token={token}&asset_type=stl")
    assert by_query.status_code == 200 and by_query.json()["asset_id"] == asset_id


@pytest.mark.django_db
def test_a_wrong_missing_or_other_visitors_token_is_a_404_like_a_missing_job(tmp_path):
    job = _with_output(_visitor_job(), tmp_path)
    other = _with_output(_visitor_job(), tmp_path)
    anonymous = APIClient()
    missing = anonymous.get(f"/api/v1/jobs/{uuid.uuid4()}", **_header(job.visitor_token))
    assert missing.status_code == 404
    for wrong in ("guess", other.visitor_token, job.visitor_token[:-1]):
        for route in _read_routes(job):
            answer = anonymous.get(route, **_header(wrong))
            assert answer.status_code == 404, (route, answer.content)
            assert answer.json()["error"]["code"] == missing.json()["error"]["code"] == "not_found"
        assert anonymous.get(f"/api/v1/jobs/{job.pk}?visitor_token={wrong}").status_code == 404
    # Its own token does not open the other visitor's files either.
    other_asset = other.assets.get()
    assert anonymous.get(f"/api/v1/assets/{other_asset.pk}/download-url", **_header(job.visitor_token)).status_code == 404
    assert anonymous.get(f"/api/v1/assets?job_id={other.pk}", **_header(job.visitor_token)).status_code == 404


@pytest.mark.django_db
def test_anonymous_without_a_token_stays_401(tmp_path):
    job = _with_output(_visitor_job(), tmp_path)
    anonymous = APIClient()
    for route in _read_routes(job):
        assert anonymous.get(route).status_code == 401, route
        assert anonymous.get(route, **_header("")).status_code == 401, route
    assert anonymous.post(f"/api/v1/jobs/{job.pk}/cancel").status_code == 401
    # A visitor token with no job named cannot list anything.
    listed = anonymous.get("/api/v1/assets", **_header(job.visitor_token))
    assert listed.status_code == 400 and "job_id" in listed.json()["error"]["fields"]


@pytest.mark.django_db
def test_the_token_reads_only_it_never_writes_or_reaches_user_routes(tmp_path):
    job = _with_output(_visitor_job(start=False), tmp_path)
    anonymous = APIClient()
    headers = _header(job.visitor_token)
    assert anonymous.patch(f"/api/v1/jobs/{job.pk}", {"status": "cancelled"}, format="json", **headers).status_code == 401
    assert anonymous.patch(f"/api/v1/jobs/{job.pk}/status", {"status": "cancelled"}, format="json", **headers).status_code == 401
    assert anonymous.post(f"/api/v1/jobs/{job.pk}/start", **headers).status_code == 401
    assert anonymous.get(f"/api/v1/jobs/{job.pk}/valid-transitions", **headers).status_code == 401
    assert anonymous.get("/api/v1/jobs", **headers).status_code == 401
    assert anonymous.get(f"/api/v1/assets/{job.assets.get().pk}", **headers).status_code == 401
    assert anonymous.delete(f"/api/v1/assets/{job.assets.get().pk}", **headers).status_code == 401
    assert Job.objects.get(pk=job.pk).status == Job.Status.PENDING and job.assets.count() == 1


@pytest.mark.django_db
def test_the_visitor_cancels_its_job_with_its_token_and_nobody_else_can():
    job = _visitor_job(start=False)
    other = _visitor_job(start=False)
    anonymous = APIClient()
    refused = anonymous.post(f"/api/v1/jobs/{job.pk}/cancel", **_header(other.visitor_token))
    assert refused.status_code == 404
    assert Job.objects.get(pk=job.pk).status == Job.Status.PENDING
    cancelled = anonymous.post(f"/api/v1/jobs/{job.pk}/cancel", **_header(job.visitor_token))
    assert cancelled.status_code == 200, cancelled.content
    assert cancelled.json()["status"] == "cancelled" == Job.objects.get(pk=job.pk).status
    by_query = anonymous.post(f"/api/v1/jobs/{other.pk}/cancel?visitor_token={other.visitor_token}")
    assert by_query.status_code == 200 and Job.objects.get(pk=other.pk).status == Job.Status.CANCELLED


@pytest.mark.django_db
def test_signed_in_callers_keep_ownership_and_the_token_grants_read_to_whoever_holds_it(user, other_user, tmp_path):
    job = _with_output(_visitor_job(), tmp_path)
    client = bearer_client(other_user)
    # Without the token a signed-in user cannot see a visitor's job ...
    assert client.get(f"/api/v1/jobs/{job.pk}").status_code == 404
    assert client.get(f"/api/v1/assets?job_id={job.pk}").json() == []
    assert client.get(f"/api/v1/assets/{job.assets.get().pk}/download-url").status_code == 404
    # ... with it, exactly like the anonymous visitor (a token is a capability, like a signed link).
    for route in _read_routes(job):
        assert client.get(route, **_header(job.visitor_token)).status_code == 200, route

    mine = _with_output(services.job_create(owner=JobOwner.for_user(user), kind="scad_render",
                                            params={"scad": "cube(1);"}, start=False), tmp_path)
    owner = bearer_client(user)
    for route in _read_routes(mine):
        assert owner.get(route).status_code == 200, route
        # A stray visitor token does not get in the way of the owner's own job ...
        assert owner.get(route, **_header(job.visitor_token)).status_code == 200, route
        # ... and never opens a user's job for someone else, nor for an anonymous caller.
        assert client.get(route, **_header(job.visitor_token)).status_code == 404, route
        assert APIClient().get(route, **_header(job.visitor_token)).status_code == 404, route


@pytest.mark.django_db
def test_openapi_documents_the_visitor_token_header(client):
    schema = client.get("/api/v1/schema", HTTP_ACCEPT="application/json").json()
    operations = [("/api/v1/jobs/{job_id}", "get"), ("/api/v1/jobs/{job_id}/events", "get"),
                  ("/api/v1/jobs/{job_id}/download-url", "get"), ("/api/v1/assets", "get"),
                  ("/api/v1/assets/{asset_id}/download-url", "get"), ("/api/v1/jobs/{job_id}/cancel", "post")]
    for path, method in operations:
        parameters = {(p["in"], p["name"]) for p in schema["paths"][path][method].get("parameters", [])}
        assert {("header", "X-Visitor-Token"), ("query", "visitor_token")} <= parameters, (path, method)
    patch = schema["paths"]["/api/v1/jobs/{job_id}"]["patch"].get("parameters", [])
    assert ("header", "X-Visitor-Token") not in {(p["in"], p["name"]) for p in patch}


@pytest.mark.django_db
def test_a_browser_spa_may_send_the_header_cross_origin(client):
    preflight = client.options("/api/v1/jobs/00000000-0000-0000-0000-000000000000", HTTP_ORIGIN="http://localhost:5173",
                               HTTP_ACCESS_CONTROL_REQUEST_METHOD="GET",
                               HTTP_ACCESS_CONTROL_REQUEST_HEADERS="x-visitor-token")
    assert "x-visitor-token" in preflight["Access-Control-Allow-Headers"].lower()


# --- websocket ------------------------------------------------------------------------------


async def _socket(path: str):
    communicator = WebsocketCommunicator(application, path)
    connected, _ = await communicator.connect(timeout=5)
    assert connected
    return communicator


async def _closed_with(path: str) -> int:
    socket = await _socket(path)
    message = await socket.receive_output(timeout=5)
    assert message["type"] == "websocket.close", message
    return message["code"]


@pytest.mark.django_db(transaction=True)
def test_the_visitor_socket_replays_and_follows_its_job(settings):
    settings.CHANNEL_LAYERS = {}  # polling: deterministic without Redis
    job = _visitor_job(start=False)
    token = job.visitor_token

    async def scenario():
        socket = await _socket(f"/api/v1/jobs-socket/{job.pk}?visitor_token={token}&after=0")
        first = await socket.receive_json_from(timeout=3)
        assert (first["seq"], first["data"]["status"]) == (1, "pending")
        await database_sync_to_async(services.job_cancel)(job=job)
        live = await socket.receive_json_from(timeout=3)
        assert (live["seq"], live["data"]["status"]) == (2, "cancelled")
        await socket.disconnect()
        again = await _socket(f"/api/v1/jobs-socket/{job.pk}?visitor_token={token}&after=1")
        assert (await again.receive_json_from(timeout=3))["seq"] == 2
        assert await again.receive_nothing(timeout=0.6)
        await again.disconnect()

    async_to_sync(scenario)()


@pytest.mark.django_db(transaction=True)
def test_the_visitor_socket_refuses_wrong_and_missing_tokens(settings, user):
    settings.CHANNEL_LAYERS = {}
    job = _visitor_job(start=False)
    other = _visitor_job(start=False)
    mine = services.job_create(owner=JobOwner.for_user(user), kind="scad_render", params={"scad": "cube(1);"}, start=False)

    async def scenario():
        base = f"/api/v1/jobs-socket/{job.pk}"
        assert await _closed_with(f"{base}?visitor_token=guess") == 4404
        assert await _closed_with(f"{base}?visitor_token={other.visitor_token}") == 4404
        assert await _closed_with(f"/api/v1/jobs-socket/{uuid.uuid4()}?visitor_token={job.visitor_token}") == 4404
        # A visitor token never opens a user's job.
        assert await _closed_with(f"/api/v1/jobs-socket/{mine.pk}?visitor_token={job.visitor_token}") == 4404
        assert await _closed_with(base) == CLOSE_UNAUTHORIZED
        assert await _closed_with(f"{base}?visitor_token=") == CLOSE_UNAUTHORIZED
        assert await _closed_with(f"{base}?after=0") == CLOSE_UNAUTHORIZED

    async_to_sync(scenario)()


@pytest.mark.django_db(transaction=True)
def test_a_signed_in_user_with_a_visitors_token_reads_that_visitors_job(settings, other_user):
    settings.CHANNEL_LAYERS = {}
    job = _visitor_job(start=False)
    access = token_pair_issue(user=other_user).access

    async def scenario():
        assert await _closed_with(f"/api/v1/jobs-socket/{job.pk}?token={access}") == 4404
        socket = await _socket(f"/api/v1/jobs-socket/{job.pk}?token={access}&visitor_token={job.visitor_token}")
        assert (await socket.receive_json_from(timeout=3))["seq"] == 1
        await socket.disconnect()
        # A bad access token is still a 4401, whatever visitor token comes with it.
        assert await _closed_with(f"/api/v1/jobs-socket/{job.pk}?token=garbage&visitor_token={job.visitor_token}") == 4401

    async_to_sync(scenario)()


class _Scope(AsyncJsonWebsocketConsumer):
    async def connect(self):
        await self.accept()
        await self.send_json({"authenticated": self.scope["user"].is_authenticated, "auth": self.scope["auth"]})


@pytest.mark.django_db(transaction=True)
def test_the_middleware_lets_an_anonymous_socket_through_only_with_a_visitor_token():
    app = WebsocketAuthMiddleware(_Scope.as_asgi())

    async def first_message(path):
        communicator = WebsocketCommunicator(app, path)
        await communicator.connect()
        message = await communicator.receive_output(timeout=3)
        await communicator.disconnect()
        return message

    async def scenario():
        opened = await first_message("/ws/?visitor_token=abc")
        assert opened["type"] == "websocket.send" and '"auth": "visitor"' in opened["text"]
        assert '"authenticated": false' in opened["text"]
        for path in ("/ws/", "/ws/?visitor_token=", "/ws/?other=abc"):
            assert await first_message(path) == {"type": "websocket.close", "code": CLOSE_UNAUTHORIZED}

    async_to_sync(scenario)()
