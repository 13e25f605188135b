"""One sequenced event stream for every websocket (job progress today, chat next).

The database is the truth: every message of a stream carries a sequence number (`seq`) that
grows by one per message. A socket sends every message with `seq > after` (`?after=N`), in
order, then new ones as they are written, so a client that reconnects with its last `seq`
misses nothing.

What wakes a consumer: `stream_publish(group, seq)` after commit pushes through the channel
layer when one is configured (Redis); a slow safety poll still runs then, reading the table
once the stream has been quiet for SAFETY_POLL_SECONDS, so a lost push delays a message (by the
next push, or at most that long) and never loses it. Without a channel layer the consumer polls
the database.

Authentication (4401) and the origin check (4403) happen before a consumer runs, in
`accounts.websocket.WebsocketAuthMiddleware` (see `mozukai_hub/asgi.py`). A consumer answers a
stream the caller may not read exactly like a missing one: accept, then close with 4404.

A stream is a subclass of `SequencedStreamConsumer` that says how to load its object for the
caller (`stream_get`), which channel-layer group it listens to (`stream_group`) and how to read
its messages (`messages_after`). The three run in a worker thread with database access.
"""

import abc
import asyncio
import logging
from urllib.parse import parse_qs

from asgiref.sync import async_to_sync
from channels.consumer import get_handler_name
from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from channels.layers import get_channel_layer
from django.core.exceptions import ObjectDoesNotExist
from django.db import transaction
from django.http import Http404

logger = logging.getLogger(__name__)

CLOSE_NOT_FOUND = 4404
# Delivery broke on our side: close, so the client reconnects with `after` and misses nothing.
CLOSE_INTERNAL_ERROR = 1011
POLL_SECONDS = 0.25
# With a channel layer, a slow poll still runs: a lost push delays a message, never loses it.
SAFETY_POLL_SECONDS = 5.0
# The query parameter an anonymous visitor's socket carries its token in.
VISITOR_TOKEN_PARAM = "visitor_token"
# The channel-layer message type; Channels dispatches it to `SequencedStreamConsumer.stream_event`.
PUSH_TYPE = "stream.event"


def _push(group: str, seq: int) -> None:
    layer = get_channel_layer()
    if layer is None:
        return  # no channel layer: consumers find new messages by polling the database
    async_to_sync(layer.group_send)(group, {"type": PUSH_TYPE, "seq": seq})


def stream_publish(group: str, seq: int) -> None:
    """Wake the group's consumers once the current transaction commits (at once outside one).

    Robust: the write is committed whatever Redis does; a failed push is logged, the consumers
    still find the message by polling, and later on-commit hooks still run.
    """
    transaction.on_commit(lambda: _push(group, seq), robust=True)


class SequencedStreamConsumer(AsyncJsonWebsocketConsumer, abc.ABC):
    """Replay after `?after=N`, then live delivery; `{"type": "ping"}` is answered with
    `{"type": "pong", "seq": <last seq sent>}`.

    A subclass reaches the database only through `database_sync_to_async` (which closes stale
    connections before and after): `dispatch` does not close them for every message."""

    stream = None
    group = None
    poller = None
    cursor = 0
    pushed_at = 0.0  # event-loop time of the last push that brought something new

    @abc.abstractmethod
    def stream_get(self, *, user, visitor_token: str, **route_kwargs):
        """The stream's object if this caller may read it; None (or Http404 /
        ObjectDoesNotExist) otherwise. `user` is `scope["user"]`, `visitor_token` the
        `?visitor_token=` query parameter ("" when absent), `route_kwargs` the URL's."""

    @abc.abstractmethod
    def stream_group(self, stream) -> str:
        """The channel-layer group `stream_publish` is called with for this stream."""

    @abc.abstractmethod
    def messages_after(self, stream, after: int) -> list[dict]:
        """The next messages with `seq > after`, ascending by `seq` (a bounded batch is fine:
        the consumer asks again until nothing newer is left)."""

    def _load(self, query: dict):
        token = (query.get(VISITOR_TOKEN_PARAM) or [""])[0]
        try:
            return self.stream_get(user=self.scope.get("user"), visitor_token=token,
                                   **self.scope["url_route"]["kwargs"])
        except (Http404, ObjectDoesNotExist):
            return None

    async def dispatch(self, message):
        """Channels' dispatch without its `aclose_old_connections()` before every handler: that
        is a hop to the server's one shared sync thread for each frame and each push, which 50
        busy sockets queue on. Every database access of a stream goes through
        `database_sync_to_async`, which closes old connections itself, before and after."""
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        if message["type"] == PUSH_TYPE and message.get("seq", 0) > self.cursor:
            self.pushed_at = asyncio.get_running_loop().time()
        await handler(message)

    async def connect(self):
        query = parse_qs(self.scope.get("query_string", b"").decode())
        self.stream = await database_sync_to_async(self._load)(query)
        await self.accept()
        if self.stream is None:  # someone else's stream looks exactly like a missing one
            await self.close(code=CLOSE_NOT_FOUND)
            return
        try:
            self.cursor = max(0, int((query.get("after") or ["0"])[0]))
        except ValueError:
            self.cursor = 0
        self.lock = asyncio.Lock()
        self.group = self.stream_group(self.stream)
        if self.channel_layer is not None:
            # Join before reading the backlog, so nothing published in between is missed.
            await self.channel_layer.group_add(self.group, self.channel_name)
        self.poller = asyncio.create_task(self._poll(POLL_SECONDS if self.channel_layer is None else SAFETY_POLL_SECONDS))
        await self._flush()

    async def _poll(self, interval: float):
        loop = asyncio.get_running_loop()
        try:
            while True:
                await asyncio.sleep(interval)
                # While pushes arrive the table is not read: a lost push shows as a gap in the
                # next one, which reads it. The safety poll reads once the stream has been quiet
                # for `interval`, so a message whose push was lost waits at most `interval`.
                while self.channel_layer is not None and (quiet := loop.time() - self.pushed_at) < interval:
                    await asyncio.sleep(interval - quiet)
                await self._flush()
        except Exception:  # CancelledError (on disconnect) is not an Exception and passes through
            # A dead poller would leave the socket open with nothing ever arriving on it.
            logger.exception("stream %s: event delivery failed; closing the socket", self.group)
            await self.close(code=CLOSE_INTERNAL_ERROR)

    async def _flush(self):
        async with self.lock:
            while True:
                sent = False
                for message in await database_sync_to_async(self.messages_after)(self.stream, self.cursor):
                    if message["seq"] <= self.cursor:
                        continue
                    await self.send_json(message)
                    self.cursor = message["seq"]
                    sent = True
                if not sent:  # nothing newer left (a backlog larger than one batch is sent whole)
                    return

    async def stream_event(self, message):
        if message.get("seq", 0) > self.cursor:
            await self._flush()

    async def receive_json(self, content, **kwargs):
        if isinstance(content, dict) and content.get("type") == "ping":
            await self.send_json({"type": "pong", "seq": self.cursor})

    async def disconnect(self, code):
        if self.poller is not None:
            self.poller.cancel()
        if self.group is not None and self.channel_layer is not None:
            await self.channel_layer.group_discard(self.group, self.channel_name)
