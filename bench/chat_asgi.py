"""The app as daphne serves it, plus bench/chat.py's two baselines in the same daphne process:

- `/bench/echo`: a bare Channels echo consumer (the websocket stack alone);
- `/bench/hops`: the hops a chat run takes, with no database and no assistant work: the frame
  goes to a worker thread (as `chat.consumers.ChatConsumer` hands it over), which enqueues a
  django-q2 task (as `chat.runs._enqueue`: same broker, `save=False`); the task pushes the text
  back through the channel layer (`chat.services._group_send`, the chat's push) to the socket's
  group, and the consumer sends it. What this costs is the floor under any chat run built on
  daphne, django-q2 and the Redis channel layer.
"""

import os
import uuid

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mozukai_hub.settings")

from channels.db import database_sync_to_async  # noqa: E402
from channels.generic.websocket import AsyncWebsocketConsumer  # noqa: E402

from mozukai_hub.asgi import application as site  # noqa: E402

HOPS_TASK = "bench.chat_asgi.hop_reply"


class Echo(AsyncWebsocketConsumer):
    async def receive(self, text_data=None, bytes_data=None):
        await self.send(text_data=text_data)


class Hops(AsyncWebsocketConsumer):
    async def connect(self):
        self.group = f"bench-hops.{uuid.uuid4().hex}"
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()

    async def disconnect(self, code):
        await self.channel_layer.group_discard(self.group, self.channel_name)

    async def receive(self, text_data=None, bytes_data=None):
        await database_sync_to_async(self._enqueue, thread_sensitive=False)(text_data)

    def _enqueue(self, text: str) -> None:
        from django_q.tasks import async_task

        from chat.runs import _broker

        async_task(HOPS_TASK, self.group, text, broker=_broker(), save=False)

    async def hop_reply(self, message):
        await self.send(text_data=message["text"])


def hop_reply(group: str, text: str) -> None:
    """The django-q2 task of `/bench/hops`: the text back to the socket, as a chat run's push."""
    from chat.services import _group_send

    _group_send(group, {"type": "hop.reply", "text": text})


echo = Echo.as_asgi()
hops = Hops.as_asgi()


async def application(scope, receive, send):
    if scope["type"] == "websocket" and scope["path"] == "/bench/echo":
        return await echo(scope, receive, send)
    if scope["type"] == "websocket" and scope["path"] == "/bench/hops":
        return await hops(scope, receive, send)
    return await site(scope, receive, send)
