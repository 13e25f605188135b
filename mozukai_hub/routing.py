"""Websocket routes of every app, served under the same prefix as the REST API."""

from django.urls import path

from pipeline.consumers import JobEventsConsumer

websocket_urlpatterns: list = [
    path("api/v1/jobs-socket/<uuid:job_id>", JobEventsConsumer.as_asgi()),
    path("api/v1/jobs-socket/<uuid:job_id>/", JobEventsConsumer.as_asgi()),
]
