"""The websocket auth middleware every consumer sits behind."""

import json

import pytest
from asgiref.sync import async_to_sync
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.test import Client

from accounts.tokens import token_logout, token_pair_issue
from accounts.websocket import CLOSE_FORBIDDEN_ORIGIN, CLOSE_UNAUTHORIZED, WebsocketAuthMiddleware
from mozukai_hub.testing.fixtures import PASSWORD

# Channels runs the middleware's database work in another thread: commit test data for real.
pytestmark = pytest.mark.django_db(transaction=True)


class WhoAmI(AsyncJsonWebsocketConsumer):
    async def connect(self):
        await self.accept()
        await self.send_json({"user": self.scope["user"].email, "auth": self.scope["auth"]})


app = WebsocketAuthMiddleware(WhoAmI.as_asgi())


@async_to_sync
async def connect(path: str, headers=()):
    """Return ("open", first message) or ("closed", close code)."""
    communicator = WebsocketCommunicator(app, path, headers=list(headers))
    connected, _ = await communicator.connect()
    assert connected  # always accepted first, so that a browser can read the close code
    message = await communicator.receive_output(timeout=3)
    if message["type"] == "websocket.close":
        return "closed", message["code"]
    await communicator.disconnect()
    return "open", json.loads(message["text"])


def test_a_valid_token_authenticates_without_an_origin(user):
    access = token_pair_issue(user=user).access
    assert connect(f"/ws/?token={access}") == ("open", {"user": user.email, "auth": "token"})


@pytest.mark.parametrize("query", ["", "?token=", "?token=garbage", "?other=1"])
def test_a_missing_or_bad_token_closes_with_4401(query):
    assert connect(f"/ws/{query}") == ("closed", CLOSE_UNAUTHORIZED)


def test_a_revoked_token_closes_with_4401(user):
    from rest_framework_simplejwt.tokens import AccessToken

    access = token_pair_issue(user=user).access
    token_logout(user=user, access_token=AccessToken(access), raw_refresh=None)
    assert connect(f"/ws/?token={access}") == ("closed", CLOSE_UNAUTHORIZED)


def test_an_inactive_users_token_closes_with_4401(user):
    access = token_pair_issue(user=user).access
    user.is_active = False
    user.save()
    assert connect(f"/ws/?token={access}") == ("closed", CLOSE_UNAUTHORIZED)


def _session_cookie(user) -> bytes:
    client = Client()
    assert client.login(email=user.email, password=PASSWORD)
    return f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}".encode()


def test_a_session_cookie_from_an_allowed_origin_authenticates(user):
    headers = [(b"cookie", _session_cookie(user)), (b"origin", b"http://localhost:5173")]
    assert connect("/ws/", headers) == ("open", {"user": user.email, "auth": "session"})
    same_host = [(b"cookie", _session_cookie(user)), (b"origin", b"http://127.0.0.1:8000")]
    assert connect("/ws/", same_host)[0] == "open"


@pytest.mark.parametrize("origin", [None, b"https://evil.example.com"])
def test_a_session_cookie_from_another_or_no_origin_is_refused(user, origin):
    headers = [(b"cookie", _session_cookie(user))] + ([(b"origin", origin)] if origin else [])
    assert connect("/ws/", headers) == ("closed", CLOSE_FORBIDDEN_ORIGIN)
