"""The app as daphne serves it, plus a bare Channels echo consumer at `/bench/echo` (bench/chat.py's
baseline: the same daphne process, the same websocket stack, no database and no task)."""

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mozukai_hub.settings")

from channels.generic.websocket import AsyncWebsocketConsumer  # noqa: E402

from mozukai_hub.asgi import application as site  # noqa: E402


class Echo(AsyncWebsocketConsumer):
    async def receive(self, text_data=None, bytes_data=None):
        await self.send(text_data=text_data)


echo = Echo.as_asgi()


async def application(scope, receive, send):
    if scope["type"] == "websocket" and scope["path"] == "/bench/echo":
        return await echo(scope, receive, send)
    return await site(scope, receive, send)
