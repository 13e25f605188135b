"""What one local process_requirements run costs (bench/chat.py measures the time): the request's
and the worker's statements are pinned, the task is sent without a stored result, a push carries
the committed events themselves, and a socket that missed a push reads the gap from the table."""

import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator
from django_q.signing import SignedPackage

from accounts.tokens import token_pair_issue
from chat import runs, services, tasks
from chat.models import Chat, ChatEvent
from mozukai_hub.asgi import application

PROMPT = "Design a small quadcopter frame"


@pytest.mark.django_db
def test_a_local_requirements_run_costs_few_statements(chat, django_assert_max_num_queries):
    # The request: the caps' one count, one numbering UPDATE … RETURNING, the message, the run, the
    # two events in one insert (+ the test's savepoint pair). It was 14 before.
    with django_assert_max_num_queries(8):
        run = runs.chat_run_request(chat=chat, action="process_requirements", content=PROMPT)
    # The worker: claim, read the run, the history, then one transaction: end the run, number,
    # message, events. It was 25 (two status reads, per-event numbering, savepoints).
    with django_assert_max_num_queries(10):
        assert tasks.chat_run_execute(str(run.pk)) == "done"
    run.refresh_from_db()
    assert run.status == "completed" and run.message.role == "assistant" and run.message.parts["requirements"]
    stream = [(e.seq, e.type) for e in ChatEvent.objects.filter(chat=chat).order_by("seq")]
    assert stream == [(1, "message.created"), (2, "runpod.queued"), (3, "message.created"), (4, "runpod.completed")]
    assert Chat.objects.get(pk=chat.pk).last_seq == 4
    assert run.message.seq == 3 and run.prompt_message.seq == 1


@pytest.mark.django_db(transaction=True)
def test_the_run_task_is_sent_without_a_stored_result(chat):
    run = runs.chat_run_request(chat=chat, action="process_requirements", content=PROMPT)
    broker = runs._broker()
    packages = [SignedPackage.loads(raw) for raw in broker.connection.lrange(broker.list_key, 0, -1)]
    sent = [p for p in packages if p["name"] == f"chat-run:{run.pk}"]
    assert len(sent) == 1 and sent[0]["save"] is False and sent[0]["args"] == (str(run.pk),)
    broker.connection.lrem(broker.list_key, 0, *broker.connection.lrange(broker.list_key, 0, -1))


@pytest.mark.django_db(transaction=True)
def test_a_push_carries_the_committed_events(chat):
    layer = get_channel_layer()  # Redis (mozukai_hub.testing.services)

    async def listen():
        channel = await layer.new_channel()
        await layer.group_add(services.chat_group(chat.pk), channel)
        return channel

    async def received(channel):
        return await layer.receive(channel)

    channel = async_to_sync(listen)()
    run = runs.chat_run_request(chat=chat, action="process_requirements", content=PROMPT)
    push = async_to_sync(received)(channel)
    table = [event.as_message() for event in ChatEvent.objects.filter(chat=chat).order_by("seq")]
    assert push["seq"] == 2 and push["events"] == table  # both events of the request, one push
    assert [e["type"] for e in push["events"]] == ["message.created", "runpod.queued"]
    assert push["events"][1]["runpod_id"] == str(run.pk)


@pytest.mark.django_db(transaction=True)
def test_a_socket_that_missed_a_push_reads_the_gap_from_the_table(chat, user):
    token = token_pair_issue(user=user).access

    def lost_then_announced():
        # An event whose push was lost (written, numbered, never announced) …
        Chat.objects.filter(pk=chat.pk).update(last_seq=1)
        ChatEvent.objects.create(chat=chat, seq=1, type="message.deleted", data={"chat_id": str(chat.pk), "message_id": "x"})
        # … then one announced: its push starts at 2 while the socket is at 0.
        services.chat_event_append(chat_id=chat.pk, type="runpod.progress", data={"stage": "started"})

    async def scenario():
        socket = WebsocketCommunicator(application, f"/api/v1/chat-socket/{chat.pk}?token={token}&after=0")
        assert (await socket.connect(timeout=5))[0]
        await database_sync_to_async(lost_then_announced)()
        got = [await socket.receive_json_from(timeout=3) for _ in range(2)]  # well before the 5 s safety poll
        await socket.disconnect()
        return got

    got = async_to_sync(scenario)()
    assert [(e["seq"], e["type"]) for e in got] == [(1, "message.deleted"), (2, "runpod.progress")]
