"""The chat socket: events with the chat's sequence, replay after N (also of a message still
streaming), the actions sent on it, bad input answered with error events, and who may connect."""

import asyncio
import json

import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator

from accounts.tokens import token_pair_issue
from chat import services, tasks
from chat.models import ChatRun, Message
from mozukai_hub.asgi import application

pytestmark = pytest.mark.django_db(transaction=True)


def _token(user) -> str:
    return token_pair_issue(user=user).access


async def _connect(token, chat_id, after=None, extra=""):
    query = f"token={token}" + (f"&after={after}" if after is not None else "") + extra
    socket = WebsocketCommunicator(application, f"/api/v1/chat-socket/{chat_id}?{query}")
    connected, _ = await socket.connect(timeout=5)
    assert connected
    return socket


async def _until(socket, type_, limit=20):
    seen = []
    for _ in range(limit):
        event = await socket.receive_json_from(timeout=4)
        seen.append(event)
        if event["type"] == type_:
            return seen
    raise AssertionError(f"no {type_} in {[e['type'] for e in seen]}")


def test_process_requirements_over_the_socket(layer_mode, chat, user):
    token = _token(user)

    async def scenario():
        socket = await _connect(token, chat.id, after=0)
        await socket.send_json_to({"type": "runpod.request", "payload": {
            "action": "process_requirements", "content": "Design a small quadcopter frame",
            "history": [{"role": "user", "content": "I need a lightweight drone"}]}})
        first = await _until(socket, "runpod.queued")
        queued = first[-1]
        assert queued["status"] == "queued" and queued["chat_id"] == str(chat.id) and queued["runpod_id"]
        run_id = queued["runpod_id"]
        assert await database_sync_to_async(tasks.chat_run_execute)(run_id) == "done"
        rest = await _until(socket, "runpod.completed")
        done = rest[-1]
        assert done["output"]["requirements_json"]["model_type"]
        assert done["message"]["role"] == "assistant" and done["message"]["content"]
        seqs = [e["seq"] for e in first + rest]
        assert seqs == list(range(1, len(seqs) + 1))  # the chat's sequence, no gap, nothing twice
        await socket.disconnect()

    async_to_sync(scenario)()


def test_reconnect_replays_the_deltas_of_a_message_still_streaming(layer_mode, chat, user):
    token = _token(user)
    message = services.message_create(chat=chat, role="assistant", content="", status=Message.Status.STREAMING)
    services.message_delta_append(message_id=message.pk, chat_id=chat.id, delta="Three ")
    services.message_delta_append(message_id=message.pk, chat_id=chat.id, delta="arms ")

    async def scenario():
        socket = await _connect(token, chat.id, after=message.seq)
        replay = [await socket.receive_json_from(timeout=3) for _ in range(2)]
        assert [(e["type"], e["delta"]) for e in replay] == [("message.delta", "Three "), ("message.delta", "arms ")]
        await database_sync_to_async(services.message_delta_append)(message_id=message.pk, chat_id=chat.id, delta="are ")
        live = await socket.receive_json_from(timeout=3)
        assert (live["type"], live["delta"], live["seq"]) == ("message.delta", "are ", replay[-1]["seq"] + 1)
        await socket.disconnect()
        again = await _connect(token, chat.id, after=live["seq"])
        assert await again.receive_nothing(timeout=0.6)
        await again.disconnect()

    async_to_sync(scenario)()
    message.refresh_from_db()
    assert message.content == "Three arms are "


def test_bad_socket_messages_get_error_events_and_store_nothing(chat, user, settings):
    settings.CHANNEL_LAYERS = {}
    settings.CHAT_MESSAGE_MAX_CHARS = 100
    token = _token(user)

    async def scenario():
        socket = await _connect(token, chat.id)
        await socket.send_to(text_data="this is not json")
        assert (await socket.receive_json_from(timeout=3))["code"] == "invalid_json"
        await socket.send_to(text_data=json.dumps([1, 2]))
        assert (await socket.receive_json_from(timeout=3))["code"] == "invalid_message"
        await socket.send_json_to({"type": "dance"})
        assert (await socket.receive_json_from(timeout=3))["code"] == "unknown_type"
        await socket.send_json_to({"type": "runpod.request", "payload": {"action": "make_coffee"}})
        error = await socket.receive_json_from(timeout=3)
        assert error["type"] == "error" and "action" in error["fields"]
        await socket.send_json_to({"type": "runpod.request", "payload": "health"})
        assert (await socket.receive_json_from(timeout=3))["code"] == "validation_error"
        await socket.send_json_to({"type": "message", "payload": {"content": "x" * 101}})
        error = await socket.receive_json_from(timeout=3)
        assert "At most 100 characters" in error["fields"]["content"][0]
        await socket.send_json_to({"type": "message", "payload": {"content": "hi", "role": "robot"}})
        assert "role" in (await socket.receive_json_from(timeout=3))["fields"]
        await socket.send_to(text_data="{" + " " * (300 * 1024) + "}")
        assert (await socket.receive_json_from(timeout=3))["code"] == "too_large"
        await socket.send_json_to({"type": "ping"})
        assert (await socket.receive_json_from(timeout=3)) == {"type": "pong", "seq": 0}
        await socket.disconnect()

    async_to_sync(scenario)()
    assert not Message.objects.exists() and not ChatRun.objects.exists() and not chat.events.exists()


def test_a_message_sent_on_the_socket_is_stored_like_a_rest_one(chat, user, settings):
    settings.CHANNEL_LAYERS = {}
    token = _token(user)

    async def scenario():
        socket = await _connect(token, chat.id)
        await socket.send_json_to({"type": "message", "payload": {"content": "Make it lighter"}})
        created = await socket.receive_json_from(timeout=3)
        assert created["type"] == "message.created" and created["message"]["content"] == "Make it lighter"
        await socket.disconnect()

    async_to_sync(scenario)()
    assert list(Message.objects.values_list("role", "content", "status")) == [("user", "Make it lighter", "complete")]


def test_runpod_cancel_on_the_socket_stops_the_run(chat, user, settings):
    settings.CHANNEL_LAYERS = {}
    token = _token(user)

    async def scenario():
        socket = await _connect(token, chat.id)
        await socket.send_json_to({"type": "runpod.request", "payload": {"action": "process_requirements", "content": "A bracket"}})
        queued = (await _until(socket, "runpod.queued"))[-1]
        await socket.send_json_to({"type": "runpod.cancel", "payload": {"runpod_id": queued["runpod_id"]}})
        failed = (await _until(socket, "runpod.failed"))[-1]
        assert failed["status"] == "cancelled"
        assert await database_sync_to_async(tasks.chat_run_execute)(queued["runpod_id"]) == "not claimable"
        await socket.disconnect()

    async_to_sync(scenario)()
    assert ChatRun.objects.get().status == "cancelled"


def test_who_may_connect(chat, user, other_user, settings):
    settings.CHANNEL_LAYERS = {}
    intruder_token = _token(other_user)

    async def scenario():
        intruder = await _connect(intruder_token, chat.id)
        assert await intruder.receive_output(timeout=5) == {"type": "websocket.close", "code": 4404}
        anonymous = WebsocketCommunicator(application, f"/api/v1/chat-socket/{chat.id}")
        await anonymous.connect(timeout=5)
        assert (await anonymous.receive_output(timeout=5))["code"] == 4401
        visitor = WebsocketCommunicator(application, f"/api/v1/chat-socket/{chat.id}?visitor_token=abc")
        await visitor.connect(timeout=5)
        assert (await visitor.receive_output(timeout=5))["code"] == 4404
        bad = WebsocketCommunicator(application, f"/api/v1/chat-socket/{chat.id}?token=nonsense")
        await bad.connect(timeout=5)
        assert (await bad.receive_output(timeout=5))["code"] == 4401

    async_to_sync(scenario)()


def test_an_idle_socket_still_gets_what_comes_later(chat, user, settings):
    """With the Redis channel layer, a socket left idle longer than the layer's 5 s blocking wait
    must stay up (it crashed with a Redis read timeout, 1011, under redis-py 8's 5 s default)."""
    if not settings.CHANNEL_LAYERS:
        pytest.fail("This test needs REDIS_URL (run through mozukai_hub.testing.services).")
    token = _token(user)

    async def scenario():
        socket = await _connect(token, chat.id)
        await asyncio.sleep(6)
        await database_sync_to_async(services.message_create)(chat=chat, role="user", content="Still there?")
        event = await socket.receive_json_from(timeout=3)
        assert event["type"] == "message.created" and event["message"]["content"] == "Still there?"
        await socket.disconnect()

    async_to_sync(scenario)()


def test_a_run_asked_on_the_socket_records_the_real_client_address(chat, user, settings):
    """Behind one trusted proxy the address is the one the proxy appended (its render spends
    that address's free credits), not the proxy's own, nor one the client wrote itself."""
    settings.TRUSTED_PROXY_COUNT = 1
    token = _token(user)

    async def scenario():
        socket = WebsocketCommunicator(application, f"/api/v1/chat-socket/{chat.id}?token={token}",
                                       headers=[(b"x-forwarded-for", b"203.0.113.66, 198.51.100.7")])
        socket.scope["client"] = ("127.0.0.1", 40000)  # the proxy
        connected, _ = await socket.connect(timeout=5)
        assert connected
        await socket.send_json_to({"type": "runpod.request", "payload": {"action": "process_requirements",
                                                                          "content": "A small quadcopter frame"}})
        queued = (await _until(socket, "runpod.queued"))[-1]
        await socket.disconnect()
        return queued["runpod_id"]

    run_id = async_to_sync(scenario)()
    assert ChatRun.objects.get(pk=run_id).client_ip == "198.51.100.7"
