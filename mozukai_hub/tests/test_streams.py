"""The sequenced event stream every websocket is built on, with a tiny stream of notes.

The notes live in a dict instead of a table: the base class only sees `stream_get`,
`stream_group` and `messages_after`, so where the messages are stored is the subclass's affair.
"""

import asyncio
import uuid

import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator
from django.contrib.auth.models import AnonymousUser
from django.db import transaction
from django.http import Http404
from django.urls import path

from mozukai_hub.streams import CLOSE_NOT_FOUND, SequencedStreamConsumer, stream_publish

pytestmark = pytest.mark.django_db(transaction=True)

NOTES: dict[str, list[dict]] = {}
BATCH = 2  # small batches: a longer backlog must still arrive whole and in order
SECRET = "let-me-in"


class NotesConsumer(SequencedStreamConsumer):
    def stream_get(self, *, user, visitor_token: str, name: str):
        if name not in NOTES:
            return None
        if name.startswith("private-") and visitor_token != SECRET:
            raise Http404("No such stream.")
        return name

    def stream_group(self, name) -> str:
        return f"test.notes.{name}"

    def messages_after(self, name, after: int) -> list[dict]:
        return [note for note in NOTES[name] if note["seq"] > after][:BATCH]


app = URLRouter([path("notes/<str:name>", NotesConsumer.as_asgi())])


@pytest.fixture
def stream():
    name = f"notes-{uuid.uuid4().hex}"
    NOTES[name] = []
    yield name
    NOTES.pop(name)


def note(name: str, text: str) -> int:
    seq = len(NOTES[name]) + 1
    NOTES[name].append({"type": "note", "seq": seq, "text": text})
    return seq


async def connect(path: str) -> WebsocketCommunicator:
    communicator = WebsocketCommunicator(app, path)
    communicator.scope["user"] = AnonymousUser()
    connected, _ = await communicator.connect(timeout=5)
    assert connected
    return communicator


async def receive(communicator, count: int) -> list:
    # Under the 5 s safety poll: in the Redis mode only the push can deliver this fast.
    return [await communicator.receive_json_from(timeout=3) for _ in range(count)]


def test_replay_after_n_then_live_messages_in_order(layer_mode, stream):
    for text in "abcde":
        note(stream, text)

    async def scenario():
        socket = await connect(f"/notes/{stream}?after=1")
        assert [(m["seq"], m["text"]) for m in await receive(socket, 4)] == [(2, "b"), (3, "c"), (4, "d"), (5, "e")]
        seq = note(stream, "f")
        await database_sync_to_async(stream_publish)(f"test.notes.{stream}", seq)
        assert [(m["seq"], m["text"]) for m in await receive(socket, 1)] == [(6, "f")]
        await socket.send_json_to({"type": "ping"})
        assert await socket.receive_json_from(timeout=3) == {"type": "pong", "seq": 6}
        assert await socket.receive_nothing(timeout=0.6)
        await socket.disconnect()

    async_to_sync(scenario)()


@pytest.mark.parametrize("after", ["", "?after=-4", "?after=soon"])
def test_a_missing_or_bad_after_replays_everything(stream, settings, after):
    settings.CHANNEL_LAYERS = {}
    note(stream, "a")
    note(stream, "b")

    async def scenario():
        socket = await connect(f"/notes/{stream}{after}")
        assert [m["seq"] for m in await receive(socket, 2)] == [1, 2]
        await socket.disconnect()

    async_to_sync(scenario)()


def test_a_publish_inside_a_rolled_back_transaction_wakes_nobody(stream, settings):
    if not settings.CHANNEL_LAYERS:
        pytest.fail("This test needs REDIS_URL (run through mozukai_hub.testing.services).")

    def publish_then_roll_back(seq):
        with pytest.raises(RuntimeError), transaction.atomic():
            stream_publish(f"test.notes.{stream}", seq)
            raise RuntimeError("roll back")

    async def scenario():
        socket = await connect(f"/notes/{stream}")
        await socket.send_json_to({"type": "ping"})  # answered once connect's first read is done
        assert await socket.receive_json_from(timeout=3) == {"type": "pong", "seq": 0}
        seq = note(stream, "written, but its transaction rolled back")
        await database_sync_to_async(publish_then_roll_back)(seq)
        assert await socket.receive_nothing(timeout=1)  # the 5 s safety poll has not run yet
        await database_sync_to_async(stream_publish)(f"test.notes.{stream}", seq)
        assert [m["seq"] for m in await receive(socket, 1)] == [seq]
        await socket.disconnect()

    async_to_sync(scenario)()


def test_a_stream_the_caller_may_not_read_closes_with_4404(settings):
    settings.CHANNEL_LAYERS = {}
    private = f"private-{uuid.uuid4().hex}"
    NOTES[private] = [{"type": "note", "seq": 1, "text": "secret"}]

    async def closed_with(path):
        socket = await connect(path)
        return await socket.receive_output(timeout=5)

    async def scenario():
        assert await closed_with(f"/notes/missing-{uuid.uuid4().hex}") == {"type": "websocket.close", "code": CLOSE_NOT_FOUND}
        assert await closed_with(f"/notes/{private}") == {"type": "websocket.close", "code": CLOSE_NOT_FOUND}
        assert await closed_with(f"/notes/{private}?visitor_token=wrong") == {"type": "websocket.close", "code": CLOSE_NOT_FOUND}
        socket = await connect(f"/notes/{private}?visitor_token={SECRET}")
        assert [m["text"] for m in await receive(socket, 1)] == ["secret"]
        await socket.disconnect()

    try:
        async_to_sync(scenario)()
    finally:
        NOTES.pop(private)


def test_a_lost_push_delays_a_message_never_loses_it(stream, settings, monkeypatch):
    """With a channel layer the safety poll finds what no push announced, at most one interval
    after the stream went quiet; while pushes are arriving it does not read the table at all
    (a push after a lost one shows the gap and reads)."""
    if not settings.CHANNEL_LAYERS:
        pytest.fail("This test needs REDIS_URL (run through mozukai_hub.testing.services).")
    interval = 0.5
    monkeypatch.setattr("mozukai_hub.streams.SAFETY_POLL_SECONDS", interval)
    poll_reads, flush = [], NotesConsumer._flush

    async def counted_flush(self):
        if asyncio.current_task() is self.poller:
            poll_reads.append(asyncio.get_running_loop().time())
        await flush(self)

    monkeypatch.setattr(NotesConsumer, "_flush", counted_flush)

    async def scenario():
        socket = await connect(f"/notes/{stream}")
        await socket.send_json_to({"type": "ping"})
        assert await socket.receive_json_from(timeout=3) == {"type": "pong", "seq": 0}
        note(stream, "its push was lost")  # written, never published
        assert [m["text"] for m in await receive(socket, 1)] == ["its push was lost"]  # the poll found it
        # A lost push, then a push: the later push's gap reads both at once.
        note(stream, "lost again")
        seq = note(stream, "announced")
        await database_sync_to_async(stream_publish)(f"test.notes.{stream}", seq)
        assert [m["text"] for m in await receive(socket, 2)] == ["lost again", "announced"]
        # Pushes every 0.2 s for 1.4 s: the poll does not read meanwhile.
        before = len(poll_reads)
        for _ in range(7):
            seq = note(stream, "live")
            await database_sync_to_async(stream_publish)(f"test.notes.{stream}", seq)
            assert [m["seq"] for m in await receive(socket, 1)] == [seq]
            await asyncio.sleep(0.2)
        assert len(poll_reads) == before, poll_reads
        # The last push of a burst is lost: one interval after the previous push, the poll reads it.
        pushed_at = asyncio.get_running_loop().time() - 0.2
        note(stream, "last, lost")
        assert [m["text"] for m in await receive(socket, 1)] == ["last, lost"]
        assert poll_reads[-1] - pushed_at < interval + 0.15
        await socket.disconnect()

    async_to_sync(scenario)()
