"""Websocket routes of every app, served under the same prefix as the REST API."""

websocket_urlpatterns: list = []
