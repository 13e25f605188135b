"""Seed 002's auth as written (issue 10, item 9) and logout by cookie (issue 16, item 10).

Seed 002's clients register with `name` and `surname`, and after login (or Google sign-in) rely
on an HttpOnly session cookie: `GET /api/auth/me` works by that cookie alone. Unsafe calls made
with the cookie need the CSRF token; logout by cookie is POST with it, and clears the cookie.
"""

from urllib.parse import urlencode

import pytest
from django.conf import settings
from rest_framework.test import APIClient

from accounts.models import User
from accounts.tests.test_google import google_certs, id_token  # noqa: F401  (google_certs is a fixture)
from mozukai_hub.testing.fixtures import PASSWORD, make_user

pytestmark = pytest.mark.django_db


def cookie_client() -> APIClient:
    """A browser: cookies kept between calls, CSRF checked as Django checks it for browsers."""
    return APIClient(enforce_csrf_checks=True)


def csrf(client: APIClient) -> dict:
    return {"HTTP_X_CSRFTOKEN": client.cookies[settings.CSRF_COOKIE_NAME].value}


def test_register_takes_seed_002s_name_and_surname(api_client):
    body = {"email": "ada@example.com", "password": PASSWORD, "name": "Ada", "surname": "Moss"}
    response = api_client.post("/api/v1/auth/register", body, format="json")
    assert response.status_code == 201, response.json()
    user = User.objects.get(email="ada@example.com")
    assert user.full_name == "Ada Moss"
    only_name = {"email": "bo@example.com", "password": PASSWORD, "name": "Bo"}
    assert api_client.post("/api/v1/auth/register", only_name, format="json").status_code == 201
    assert User.objects.get(email="bo@example.com").full_name == "Bo"


def test_register_refuses_a_name_too_long_and_stores_nothing(api_client):
    body = {"email": "long@example.com", "password": PASSWORD, "name": "A" * 100, "surname": "B" * 100}
    response = api_client.post("/api/v1/auth/register", body, format="json")
    assert response.status_code == 400 and "surname" in response.json()["error"]["fields"]
    assert not User.objects.filter(email="long@example.com").exists()


@pytest.mark.parametrize("path", ["/api/v1/auth/login", "/api/v1/auth/signin"])
def test_login_sets_the_httponly_session_cookie_and_me_works_by_it(path):
    user = make_user(full_name="Ada Moss")
    client = cookie_client()
    response = client.post(path, {"email": user.email, "password": PASSWORD}, format="json")
    assert response.status_code == 200 and response.json()["access_token"]
    cookie = response.cookies[settings.SESSION_COOKIE_NAME]
    assert cookie.value and cookie["httponly"]
    me = client.get("/api/v1/auth/me")  # no Authorization header: the cookie alone
    assert me.status_code == 200 and me.json()["email"] == user.email


@pytest.mark.parametrize("path", ["/api/v1/auth/login", "/api/v1/auth/signin", "/api/v1/auth/google",
                                  "/api/v1/auth/register", "/api/v1/auth/signup", "/api/v1/auth/refresh"])
@pytest.mark.parametrize("form", ["urlencoded", "multipart"])
def test_credential_endpoints_refuse_form_bodies_so_no_cross_site_form_signs_anyone_in(path, form, google_certs):  # noqa: F811
    """Login CSRF: a page on another site auto-submits a form (no CORS preflight for form bodies)
    with the attacker's credentials; had it worked, the victim's browser would hold the
    attacker's session cookie. Only JSON (which needs a preflight cross-site) is accepted."""
    user = make_user()
    body = {"email": user.email, "password": PASSWORD, "id_token": id_token(), "name": "Eve",
            "refresh_token": "x"}
    client = cookie_client()
    if form == "urlencoded":
        response = client.generic("POST", path, urlencode(body), content_type="application/x-www-form-urlencoded",
                                  HTTP_ORIGIN="https://evil.example", HTTP_SEC_FETCH_SITE="cross-site")
    else:
        response = client.post(path, body, format="multipart", HTTP_ORIGIN="https://evil.example")
    assert response.status_code == 415, response.content
    assert response["Content-Type"].startswith("application/json")
    assert response.json()["error"]["code"] == "unsupported_media_type"
    assert settings.SESSION_COOKIE_NAME not in response.cookies
    assert client.get("/api/v1/auth/me").status_code == 401
    assert User.objects.filter(full_name="Eve").count() == 0


def test_login_by_json_still_sets_the_session_cookie_after_a_refused_form():
    user = make_user()
    client = cookie_client()
    refused = client.generic("POST", "/api/v1/auth/login", urlencode({"email": user.email, "password": PASSWORD}),
                             content_type="application/x-www-form-urlencoded")
    assert refused.status_code == 415 and settings.SESSION_COOKIE_NAME not in refused.cookies
    response = client.post("/api/v1/auth/login", {"email": user.email, "password": PASSWORD}, format="json")
    assert response.status_code == 200 and response.cookies[settings.SESSION_COOKIE_NAME].value


def test_unsafe_calls_by_cookie_need_the_csrf_token():
    user = make_user(full_name="Ada Moss")
    client = cookie_client()
    client.post("/api/v1/auth/login", {"email": user.email, "password": PASSWORD}, format="json")
    refused = client.patch("/api/v1/users/me", {"full_name": "Mallory"}, format="json")
    assert refused.status_code == 403
    user.refresh_from_db()
    assert user.full_name == "Ada Moss"
    allowed = client.patch("/api/v1/users/me", {"full_name": "Ada M."}, format="json", **csrf(client))
    assert allowed.status_code == 200 and allowed.json()["full_name"] == "Ada M."


def test_google_sign_in_sets_the_session_cookie(google_certs):  # noqa: F811
    client = cookie_client()
    response = client.post("/api/v1/auth/google", {"id_token": id_token()}, format="json")
    assert response.status_code == 201, response.json()
    assert response.cookies[settings.SESSION_COOKIE_NAME]["httponly"]
    assert client.get("/api/v1/auth/me").json()["email"] == "gardener@example.com"


def test_logout_by_cookie_is_post_with_csrf_and_clears_the_cookie():
    user = make_user()
    client = cookie_client()
    client.post("/api/v1/auth/login", {"email": user.email, "password": PASSWORD}, format="json")
    assert client.post("/api/v1/auth/logout", {}, format="json").status_code == 403  # no CSRF token
    assert client.get("/api/v1/auth/me").status_code == 200
    response = client.post("/api/v1/auth/logout", {}, format="json", **csrf(client))
    assert response.status_code == 200
    assert response.cookies[settings.SESSION_COOKIE_NAME].value == ""  # deleted
    assert client.get("/api/v1/auth/me").status_code == 401


def test_logout_by_get_with_only_the_cookie_is_refused_and_logs_nobody_out():
    """A GET can be sent by any page the browser visits (an <img src>): no CSRF check applies,
    so it must not end the session. Seed 001's GET stays for bearer-token clients."""
    user = make_user()
    client = cookie_client()
    client.force_login(user)  # signed in on the web pages: the session cookie only
    assert client.get("/api/v1/auth/me").status_code == 200
    response = client.get("/api/v1/auth/logout")
    assert response.status_code == 405
    assert response.json()["error"]["message"].startswith("Log out with POST")
    assert client.get("/api/v1/auth/me").status_code == 200


def test_logout_by_get_with_a_bearer_token_also_ends_the_session():
    user = make_user()
    client = cookie_client()
    tokens = client.post("/api/v1/auth/login", {"email": user.email, "password": PASSWORD}, format="json").json()
    bearer = {"HTTP_AUTHORIZATION": f"Bearer {tokens['access_token']}"}
    assert client.get("/api/v1/auth/logout", **bearer).status_code == 200
    assert client.get("/api/v1/auth/me", **bearer).status_code == 401
    assert client.get("/api/v1/auth/me").status_code == 401  # the cookie's session is over too
