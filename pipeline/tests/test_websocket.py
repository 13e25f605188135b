"""Job events over the websocket, with a Redis channel layer push and with database polling."""

import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator

from accounts.tokens import token_pair_issue
from mozukai_hub.asgi import application
from pipeline import services
from pipeline.models import Job

pytestmark = pytest.mark.django_db(transaction=True)


def _token(user) -> str:
    return token_pair_issue(user=user).access


async def _connect(token, job_id, after=None):
    query = f"token={token}" + (f"&after={after}" if after is not None else "")
    communicator = WebsocketCommunicator(application, f"/api/v1/jobs-socket/{job_id}?{query}")
    connected, _ = await communicator.connect(timeout=5)
    assert connected
    return communicator


async def _receive(communicator, count):
    # Under the 5 s safety poll: in the Redis mode only the push can deliver this fast.
    return [await communicator.receive_json_from(timeout=3) for _ in range(count)]


def test_events_in_order_and_reconnect_misses_nothing(layer_mode, auth_client, user, funded_user):
    job_id = auth_client.post("/api/v1/jobs", {"prompt": "a bonsai pot", "start": False}, format="json").json()["id"]
    token = _token(user)

    async def scenario():
        socket = await _connect(token, job_id, after=0)
        first = await _receive(socket, 1)
        assert [(m["seq"], m["data"]["status"]) for m in first] == [(1, "pending")]
        job = await database_sync_to_async(Job.objects.get)(pk=job_id)
        await database_sync_to_async(services.job_start)(job=job)  # validating, queued
        live = await _receive(socket, 2)
        assert [(m["seq"], m["data"]["status"]) for m in live] == [(2, "validating"), (3, "queued")]
        await socket.disconnect()

        await database_sync_to_async(services.job_cancel)(job=job)  # seq 4 while nobody listens
        again = await _connect(token, job_id, after=3)
        missed = await _receive(again, 1)
        assert [(m["seq"], m["data"]["status"]) for m in missed] == [(4, "cancelled")]
        assert await again.receive_nothing(timeout=0.6)
        await again.disconnect()

    async_to_sync(scenario)()


def test_other_users_socket_gets_nothing(layer_mode, auth_client, user, other_user, funded_user):
    job_id = auth_client.post("/api/v1/jobs", {"prompt": "a bonsai pot"}, format="json").json()["id"]
    intruder = _token(other_user)

    async def scenario():
        socket = await _connect(intruder, job_id, after=0)
        closed = await socket.receive_output(timeout=5)
        assert closed == {"type": "websocket.close", "code": 4404}
        anonymous = WebsocketCommunicator(application, f"/api/v1/jobs-socket/{job_id}")
        await anonymous.connect(timeout=5)
        assert (await anonymous.receive_output(timeout=5))["code"] == 4401

    async_to_sync(scenario)()


def test_delivery_failure_closes_the_socket_with_1011(auth_client, user, funded_user, settings, caplog):
    """The consumer's reads start failing (a real database error): it must close with 1011 so the
    client reconnects with `after`, not stay open and silent."""
    from django.db import connection

    settings.CHANNEL_LAYERS = {}  # the poller is what delivers
    job_id = auth_client.post("/api/v1/jobs", {"prompt": "a bonsai pot", "start": False}, format="json").json()["id"]
    token = _token(user)

    def events_table(name_from, name_to):
        with connection.cursor() as cursor:
            cursor.execute(f"ALTER TABLE {name_from} RENAME TO {name_to}")

    async def scenario():
        socket = await _connect(token, job_id, after=0)
        assert (await _receive(socket, 1))[0]["seq"] == 1
        await database_sync_to_async(events_table)("pipeline_jobevent", "pipeline_jobevent_away")
        try:
            closed = await socket.receive_output(timeout=5)
        finally:
            await database_sync_to_async(events_table)("pipeline_jobevent_away", "pipeline_jobevent")
        assert closed == {"type": "websocket.close", "code": 1011}

    async_to_sync(scenario)()
    assert any("event delivery failed" in r.getMessage() and r.exc_info for r in caplog.records)
