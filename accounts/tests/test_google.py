"""Google sign-in against a local server publishing a locally generated key set."""

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import jwt
import pytest
from allauth.socialaccount.models import SocialAccount
from cryptography.hazmat.primitives.asymmetric import rsa
from django.test import override_settings

from accounts import google
from accounts.models import User
from mozukai_hub.testing.fixtures import make_user

CLIENT_ID = "test-client.apps.googleusercontent.com"


def _private_key():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


GOOGLE_KEY = _private_key()
OTHER_KEY = _private_key()


@pytest.fixture
def google_certs():
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(GOOGLE_KEY.public_key()))
    body = json.dumps({"keys": [{**jwk, "kid": "key-1", "use": "sig", "alg": "RS256"}]}).encode()
    fetches = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            fetches.append(self.path)
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    google._jwks_client.cache_clear()
    url = f"http://127.0.0.1:{server.server_address[1]}/oauth2/v3/certs"
    with override_settings(GOOGLE_CLIENT_ID=CLIENT_ID, GOOGLE_CERTS_URL=url):
        yield fetches
    server.shutdown()
    google._jwks_client.cache_clear()


def id_token(key=GOOGLE_KEY, kid="key-1", **claims):
    now = int(time.time())
    payload = {
        "iss": "https://accounts.google.com", "aud": CLIENT_ID, "sub": "1234567890", "iat": now, "exp": now + 3600,
        "email": "gardener@example.com", "email_verified": True, "name": "Green Gardener", **claims,
    }
    return jwt.encode(payload, key, algorithm="RS256", headers={"kid": kid})


@pytest.mark.django_db
def test_a_valid_token_creates_the_account_then_signs_it_in(api_client, google_certs):
    first = api_client.post("/api/v1/auth/google", {"id_token": id_token()}, format="json")
    assert first.status_code == 201, first.json()
    user = User.objects.get(email="gardener@example.com")
    assert first.json()["user_id"] == str(user.pk) and first.json()["token_type"] == "bearer"
    assert user.full_name == "Green Gardener" and not user.has_usable_password()
    assert SocialAccount.objects.get(user=user).uid == "1234567890"

    second = api_client.post("/api/v1/auth/google", {"id_token": id_token()}, format="json")
    assert second.status_code == 200 and second.json()["user_id"] == str(user.pk)
    assert User.objects.count() == 1
    assert len(google_certs) == 1  # keys are cached
    assert api_client.post("/api/v1/auth/start", {"email": "gardener@example.com"}, format="json").json()["next"] == "social_login"


@pytest.mark.django_db
def test_a_verified_google_email_links_the_existing_account(api_client, google_certs):
    existing = make_user(email="gardener@example.com")
    response = api_client.post("/api/v1/auth/google", {"id_token": id_token()}, format="json")
    assert response.status_code == 200 and response.json()["user_id"] == str(existing.pk)
    assert SocialAccount.objects.get(provider="google").user == existing


@pytest.mark.django_db
@pytest.mark.parametrize(
    "token",
    [
        pytest.param(lambda: id_token(aud="someone-else"), id="wrong-audience"),
        pytest.param(lambda: id_token(iss="https://evil.example.com"), id="wrong-issuer"),
        pytest.param(lambda: id_token(exp=int(time.time()) - 120, iat=int(time.time()) - 4000), id="expired"),
        pytest.param(lambda: id_token(key=OTHER_KEY), id="signed-by-another-key"),
        pytest.param(lambda: id_token(email_verified=False), id="unverified-email"),
        pytest.param(lambda: "not.a.jwt", id="garbage"),
    ],
)
def test_bad_tokens_are_401_and_create_nothing(api_client, google_certs, token):
    response = api_client.post("/api/v1/auth/google", {"id_token": token()}, format="json")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "google_token_invalid"
    assert User.objects.count() == 0 and SocialAccount.objects.count() == 0


@pytest.mark.django_db
def test_google_config_and_unconfigured_server(api_client, google_certs):
    assert api_client.get("/api/v1/auth/google/config").json() == {"enabled": True, "client_id": CLIENT_ID}
    with override_settings(GOOGLE_CLIENT_ID=""):
        assert api_client.get("/api/v1/auth/google/config").json() == {"enabled": False, "client_id": None}
        response = api_client.post("/api/v1/auth/google", {"id_token": id_token()}, format="json")
        assert response.status_code == 400 and response.json()["error"]["code"] == "google_not_configured"
    assert User.objects.count() == 0
