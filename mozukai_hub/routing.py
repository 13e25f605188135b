"""Websocket routes of every app, served under the same prefix as the REST API.

Every route sits behind `accounts.websocket.WebsocketAuthMiddleware` (4401 without a valid
credential, 4403 for a cookie from another origin; see `mozukai_hub/asgi.py`). A consumer of a
sequenced stream subclasses `mozukai_hub.streams.SequencedStreamConsumer`.
"""

from django.urls import path

from chat.consumers import ChatConsumer
from pipeline.consumers import JobEventsConsumer

websocket_urlpatterns: list = [
    path("api/v1/jobs-socket/<uuid:job_id>", JobEventsConsumer.as_asgi()),
    path("api/v1/jobs-socket/<uuid:job_id>/", JobEventsConsumer.as_asgi()),
    path("api/v1/chat-socket/<uuid:chat_id>", ChatConsumer.as_asgi()),
    path("api/v1/chat-socket/<uuid:chat_id>/", ChatConsumer.as_asgi()),
]
