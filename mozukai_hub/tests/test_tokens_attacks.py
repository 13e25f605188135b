"""Forged and misused credentials are refused, over HTTP and on the sockets (issue 15, "Tokens").

Already covered elsewhere: a tampered signature, an expired access token and a refresh token used
as access over HTTP, an inactive user and a revoked token (accounts/tests/test_auth_api.py,
test_websocket_auth.py), CSRF on PATCH /users/me (test_auth_seed002.py), another user's token on a
socket (test_access_control.py). Here: `alg: none`, a token signed with another key, a deleted
user's token, the socket forms of expired/refresh tokens, and CSRF on the unsafe calls that spend
or create.
"""

import base64
import datetime
import json

import jwt
import pytest
from asgiref.sync import async_to_sync
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator
from django.conf import settings
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import AccessToken

from accounts.tokens import token_pair_issue
from accounts.websocket import CLOSE_UNAUTHORIZED, WebsocketAuthMiddleware
from billing.models import CreditEntry
from chat.models import Session
from mozukai_hub.routing import websocket_urlpatterns
from mozukai_hub.testing.fixtures import PASSWORD, make_user
from pipeline.models import Job


def _b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def _claims(user) -> dict:
    return jwt.decode(token_pair_issue(user=user).access, options={"verify_signature": False})


def alg_none(user) -> str:
    return f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(_claims(user))}."


def other_key(user) -> str:
    return jwt.encode(_claims(user), "not-our-signing-key-" * 3, algorithm="HS256")


def expired(user) -> str:
    token = AccessToken(token_pair_issue(user=user).access)
    token.set_exp(lifetime=datetime.timedelta(seconds=-1))
    return str(token)


def refresh_as_access(user) -> str:
    return token_pair_issue(user=user).refresh


FORGERIES = [alg_none, other_key, expired, refresh_as_access]


@pytest.mark.django_db
@pytest.mark.parametrize("forge", FORGERIES, ids=lambda f: f.__name__)
def test_forged_tokens_are_401_and_change_nothing(api_client, user, forge):
    headers = {"HTTP_AUTHORIZATION": f"Bearer {forge(user)}"}
    response = api_client.get("/api/v1/auth/me", **headers)
    assert response.status_code == 401 and response.json()["error"]["code"] in {"token_not_valid", "authentication_failed"}
    response = api_client.post("/api/v1/sessions", {"name": "forged"}, format="json", **headers)
    assert response.status_code == 401
    assert api_client.delete("/api/v1/users/me", **headers).status_code == 401
    assert Session.objects.count() == 0 and type(user).objects.filter(pk=user.pk, is_active=True).exists()


@pytest.mark.django_db
def test_a_deleted_users_tokens_are_refused(api_client):
    user = make_user()
    pair = token_pair_issue(user=user)
    assert api_client.get("/api/v1/auth/me", HTTP_AUTHORIZATION=f"Bearer {pair.access}").status_code == 200
    user.delete()
    response = api_client.get("/api/v1/auth/me", HTTP_AUTHORIZATION=f"Bearer {pair.access}")
    assert response.status_code == 401
    response = api_client.post("/api/v1/auth/refresh", {"refresh_token": pair.refresh}, format="json")
    assert response.status_code == 401


@async_to_sync
async def _socket_close_code(path: str, token: str):
    app = WebsocketAuthMiddleware(URLRouter(websocket_urlpatterns))
    communicator = WebsocketCommunicator(app, f"{path}?token={token}")
    connected, _ = await communicator.connect()
    assert connected
    message = await communicator.receive_output(timeout=3)
    await communicator.disconnect()
    return message.get("code")


@pytest.mark.django_db(transaction=True)
def test_forged_expired_refresh_and_deleted_users_tokens_cannot_open_a_socket():
    user = make_user()
    job = Job.objects.create(owner=user, kind="text_to_3d", engine="local", params={})
    path = f"/api/v1/jobs-socket/{job.pk}"
    for forge in FORGERIES:
        assert _socket_close_code(path, forge(user)) == CLOSE_UNAUTHORIZED, forge.__name__
    doomed = make_user()
    access = token_pair_issue(user=doomed).access
    doomed.delete()
    assert _socket_close_code(f"/api/v1/jobs-socket/{job.pk}", access) == CLOSE_UNAUTHORIZED


@pytest.mark.django_db
def test_unsafe_calls_by_session_cookie_without_csrf_are_403_and_change_nothing():
    user = make_user()
    client = APIClient(enforce_csrf_checks=True)
    assert client.post("/api/v1/auth/login", {"email": user.email, "password": PASSWORD}, format="json").status_code == 200
    assert client.get("/api/v1/auth/me").status_code == 200  # the cookie signs in
    entries = CreditEntry.objects.count()
    for method, path, body in [
        ("post", "/api/v1/sessions", {"name": "cross-site"}),
        ("post", "/api/v1/jobs", {"kind": "text_to_3d", "params": {"prompt": "a pot"}}),
        ("post", "/api/v1/credits/consume", {"amount": 1}),
        ("post", "/api/v1/credits/checkout", {"pack": "starter"}),
        ("post", "/api/v1/projects", {"kind": "thumbnail", "title": "t"}),
        ("post", "/api/v1/users/me/password", {"current_password": PASSWORD, "new_password": "N3w-pass-phrase!"}),
        ("delete", "/api/v1/users/me", None),
    ]:
        response = getattr(client, method)(path, body, format="json") if body else getattr(client, method)(path)
        assert response.status_code == 403, (path, response.status_code, response.content[:200])
        assert response.json()["error"]["code"] == "permission_denied"
    assert Session.objects.count() == 0 and Job.objects.count() == 0
    assert CreditEntry.objects.count() == entries
    user.refresh_from_db()
    assert user.is_active and user.check_password(PASSWORD)
    assert settings.CSRF_COOKIE_NAME in client.cookies  # and with its token, the same client may act
    allowed = client.post("/api/v1/sessions", {"name": "mine"}, format="json",
                          HTTP_X_CSRFTOKEN=client.cookies[settings.CSRF_COOKIE_NAME].value)
    assert allowed.status_code == 201
