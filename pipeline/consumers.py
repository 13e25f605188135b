"""Live job progress: `ws /api/v1/jobs-socket/<job_id>?after=N`.

Sends every event with `seq > after`, in order, then new ones as they happen. A Redis channel
layer push wakes the consumer when one is configured; otherwise it polls the database. Either
way the events come from the database, so a client that reconnects with its last `seq`
misses nothing.
"""

import asyncio
import logging
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.http import Http404

from . import selectors
from .services.events import job_group

logger = logging.getLogger(__name__)

CLOSE_NOT_FOUND = 4404
# Delivery broke on our side: close, so the client reconnects with `after` and misses nothing.
CLOSE_INTERNAL_ERROR = 1011
POLL_SECONDS = 0.25
# With a channel layer, a slow poll still runs: a lost push delays an event, never loses it.
SAFETY_POLL_SECONDS = 5.0


@database_sync_to_async
def _job_for(user, job_id):
    try:
        return selectors.job_get_for_user(user=user, job_id=job_id)
    except Http404:
        return None


@database_sync_to_async
def _messages_after(job, after: int) -> list[dict]:
    return [event.as_message() for event in selectors.job_events_after(job=job, after=after)]


class JobEventsConsumer(AsyncJsonWebsocketConsumer):
    job = None
    poller = None

    async def connect(self):
        job_id = self.scope["url_route"]["kwargs"]["job_id"]
        self.job = await _job_for(self.scope["user"], job_id)
        await self.accept()
        if self.job is None:  # another user's job looks exactly like a missing one
            await self.close(code=CLOSE_NOT_FOUND)
            return
        query = parse_qs(self.scope.get("query_string", b"").decode())
        try:
            self.cursor = max(0, int((query.get("after") or ["0"])[0]))
        except ValueError:
            self.cursor = 0
        self.lock = asyncio.Lock()
        if self.channel_layer is not None:
            # Join before reading the backlog, so nothing published in between is missed.
            await self.channel_layer.group_add(job_group(self.job.pk), self.channel_name)
        self.poller = asyncio.create_task(self._poll(POLL_SECONDS if self.channel_layer is None else SAFETY_POLL_SECONDS))
        await self._flush()

    async def _poll(self, interval: float):
        try:
            while True:
                await asyncio.sleep(interval)
                await self._flush()
        except Exception:  # CancelledError (on disconnect) is not an Exception and passes through
            # A dead poller would leave the socket open with nothing ever arriving on it.
            logger.exception("job %s: event delivery failed; closing the socket", self.job.pk)
            await self.close(code=CLOSE_INTERNAL_ERROR)

    async def _flush(self):
        async with self.lock:
            for message in await _messages_after(self.job, self.cursor):
                await self.send_json(message)
                self.cursor = message["seq"]

    async def job_event(self, message):
        if message.get("seq", 0) > self.cursor:
            await self._flush()

    async def receive_json(self, content, **kwargs):
        if content.get("type") == "ping":
            await self.send_json({"type": "pong", "seq": self.cursor})

    async def disconnect(self, code):
        if self.poller is not None:
            self.poller.cancel()
        if self.job is not None and self.channel_layer is not None:
            await self.channel_layer.group_discard(job_group(self.job.pk), self.channel_name)
