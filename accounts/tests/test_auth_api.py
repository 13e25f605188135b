"""Every seed's auth flow through the API, with its denied and bad-input paths."""

import datetime
import re

import pytest
from allauth.account.models import EmailAddress
from django.core import mail
from django.test import override_settings
from rest_framework_simplejwt.tokens import AccessToken, RefreshToken

from accounts.models import User
from mozukai_hub.testing.fixtures import PASSWORD, make_user

pytestmark = pytest.mark.django_db

SIGNUP = {
    "email": "new@example.com",
    "password": PASSWORD,
    "confirm_password": PASSWORD,
    "username": "uniqueusername",
    "full_name": "User Name",
    "dob": "1990-01-01",
}


def login(client, email, password=PASSWORD, path="/api/v1/auth/login", **extra):
    return client.post(path, {"email": email, "password": password, **extra}, format="json")


def test_start_tells_whether_an_account_exists(api_client, user):
    assert api_client.post("/api/v1/auth/start", {"email": user.email.upper()}, format="json").json() == {"exists": True, "next": "password"}
    assert api_client.post("/api/v1/auth/start", {"email": "nobody@example.com"}, format="json").json() == {"exists": False, "next": "create_account"}
    social = make_user(email="social@example.com")
    social.set_unusable_password()
    social.save()
    assert api_client.post("/api/v1/auth/start", {"email": "social@example.com"}, format="json").json()["next"] == "social_login"


def test_signup_creates_the_account_and_sends_a_confirmation(api_client, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = api_client.post("/api/v1/auth/signup", SIGNUP, format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["next"] == "confirm_email"
    user = User.objects.get(pk=body["user_id"])
    assert (user.email, user.username, user.full_name, user.dob) == ("new@example.com", "uniqueusername", "User Name", datetime.date(1990, 1, 1))
    assert EmailAddress.objects.get(user=user).verified is False
    assert len(mail.outbox) == 1 and mail.outbox[0].to == ["new@example.com"]

    key = re.search(r"/accounts/confirm-email/([^/\s]+)/", mail.outbox[0].body).group(1)
    confirmed = api_client.post("/api/v1/auth/confirm", {"token": key}, format="json")
    assert confirmed.status_code == 200 and confirmed.json() == {"message": "Email confirmed"}
    assert EmailAddress.objects.get(user=user).verified is True
    # A used link cannot confirm again.
    again = api_client.post("/api/v1/auth/confirm", {"token": key}, format="json")
    assert again.status_code == 400 and again.json()["error"]["fields"]["token"]


@pytest.mark.parametrize(
    "change, field",
    [
        ({"email": "not-an-email"}, "email"),
        ({"password": "short", "confirm_password": "short"}, "password"),
        ({"password": "password123", "confirm_password": "password123"}, "password"),
        ({"confirm_password": "Something-else-99"}, "confirm_password"),
        ({"dob": "2999-01-01"}, "dob"),
        ({"dob": "yesterday"}, "dob"),
        ({"username": "x" * 31}, "username"),
        ({"username": "no spaces!"}, "username"),
        ({"full_name": "x" * 151}, "full_name"),
        ({"is_staff": True}, "is_staff"),
        ({"email": 12}, "email"),
    ],
)
def test_signup_bad_input_is_a_400_naming_the_field_and_creates_nothing(api_client, change, field, django_capture_on_commit_callbacks):
    before = (User.objects.count(), EmailAddress.objects.count())
    with django_capture_on_commit_callbacks(execute=True):
        response = api_client.post("/api/v1/auth/signup", {**SIGNUP, **change}, format="json")
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "validation_error" and field in error["fields"]
    assert (User.objects.count(), EmailAddress.objects.count()) == before
    assert mail.outbox == []


@pytest.mark.parametrize("missing", ["email", "password", "confirm_password", "username", "full_name", "dob"])
def test_signup_missing_field(api_client, missing):
    payload = {k: v for k, v in SIGNUP.items() if k != missing}
    response = api_client.post("/api/v1/auth/signup", payload, format="json")
    assert response.status_code == 400 and missing in response.json()["error"]["fields"]
    assert User.objects.count() == 0


def test_duplicate_email_or_username_in_another_case_is_refused(api_client, user):
    for change, field in [({"email": user.email.upper()}, "email"), ({"username": user.username.upper()}, "username")]:
        response = api_client.post("/api/v1/auth/signup", {**SIGNUP, **change}, format="json")
        assert response.status_code == 400 and field in response.json()["error"]["fields"]
    assert User.objects.count() == 1


def test_malformed_json_is_a_400_in_the_error_shape(api_client):
    response = api_client.post("/api/v1/auth/signup", "{not json", content_type="application/json")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "parse_error"
    assert User.objects.count() == 0


def test_register_seed_001_shape(api_client):
    response = api_client.post("/api/v1/auth/register", {"email": "demo@example.com", "password": PASSWORD, "display_name": "Demo"}, format="json")
    assert response.status_code == 201
    body = response.json()
    assert body["message"] == "Registration successful" and body["email"] == "demo@example.com"
    user = User.objects.get(pk=body["user_id"])
    assert user.full_name == "Demo" and user.username == "demo"


@pytest.mark.parametrize("path", ["/api/v1/auth/login", "/api/v1/auth/signin", "/api/v1/auth/login/"])
def test_login_answers_every_seeds_token_fields(api_client, user, path):
    response = login(api_client, user.email.upper(), path=path)
    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "bearer" and body["user_id"] == str(user.pk)
    assert body["user"]["email"] == user.email
    assert AccessToken(body["access_token"])["user_id"] == str(user.pk)
    refresh = RefreshToken(body["refresh_token"])
    assert refresh["exp"] - refresh["iat"] == 60 * 60
    me = api_client.get("/api/v1/auth/me", HTTP_AUTHORIZATION=f"Bearer {body['access_token']}")
    assert me.status_code == 200 and me.json()["id"] == str(user.pk)


def test_remember_me_gives_a_30_day_refresh_that_survives_rotation(api_client, user):
    body = login(api_client, user.email, remember_me=True).json()
    refresh = RefreshToken(body["refresh_token"])
    assert refresh["exp"] - refresh["iat"] == 30 * 24 * 3600
    rotated = api_client.post("/api/v1/auth/refresh", {"refresh_token": body["refresh_token"]}, format="json").json()
    rotated_refresh = RefreshToken(rotated["refresh_token"])
    assert rotated_refresh["exp"] - rotated_refresh["iat"] == 30 * 24 * 3600


def test_wrong_password_unknown_user_and_inactive_user_are_401(api_client, user):
    assert login(api_client, user.email, "Wrong-password-1").status_code == 401
    assert login(api_client, "nobody@example.com").status_code == 401
    user.is_active = False
    user.save()
    response = login(api_client, user.email)
    assert response.status_code == 401 and response.json()["error"]["code"] == "invalid_credentials"


@override_settings(ACCOUNT_EMAIL_VERIFICATION="mandatory")
def test_mandatory_confirmation_blocks_signin_until_confirmed(api_client, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        api_client.post("/api/v1/auth/signup", SIGNUP, format="json")
    blocked = login(api_client, SIGNUP["email"])
    assert blocked.status_code == 403 and blocked.json()["error"]["code"] == "email_not_confirmed"
    key = re.search(r"/accounts/confirm-email/([^/\s]+)/", mail.outbox[0].body).group(1)
    api_client.post("/api/v1/auth/confirm", {"token": key}, format="json")
    assert login(api_client, SIGNUP["email"]).status_code == 200


def test_refresh_rotates_and_each_refresh_token_works_once(api_client, user):
    first = login(api_client, user.email).json()
    rotated = api_client.post("/api/v1/auth/refresh", {"refresh_token": first["refresh_token"]}, format="json")
    assert rotated.status_code == 200
    assert rotated.json()["refresh_token"] != first["refresh_token"]
    # simplejwt's field name works too; the used token does not.
    replay = api_client.post("/api/v1/auth/refresh", {"refresh": first["refresh_token"]}, format="json")
    assert replay.status_code == 401
    assert api_client.post("/api/v1/auth/refresh", {"refresh_token": rotated.json()["refresh_token"]}, format="json").status_code == 200


def test_logout_revokes_the_access_and_refresh_tokens_at_once(api_client, user):
    tokens = login(api_client, user.email).json()
    bearer = {"HTTP_AUTHORIZATION": f"Bearer {tokens['access_token']}"}
    out = api_client.post("/api/v1/auth/logout", {"refresh_token": tokens["refresh_token"]}, format="json", **bearer)
    assert out.status_code == 200
    assert api_client.get("/api/v1/auth/me", **bearer).status_code == 401
    assert api_client.post("/api/v1/auth/refresh", {"refresh_token": tokens["refresh_token"]}, format="json").status_code == 401


def test_logout_by_get_seed_001(api_client, user):
    tokens = login(api_client, user.email).json()
    bearer = {"HTTP_AUTHORIZATION": f"Bearer {tokens['access_token']}"}
    assert api_client.get("/api/v1/auth/logout", **bearer).status_code == 200
    assert api_client.get("/api/v1/users/me", **bearer).status_code == 401
    assert api_client.get("/api/v1/auth/logout").status_code == 401


def test_logout_refuses_another_users_refresh_token(api_client, user, other_user):
    mine = login(api_client, user.email).json()
    theirs = login(api_client, other_user.email).json()
    response = api_client.post(
        "/api/v1/auth/logout", {"refresh_token": theirs["refresh_token"]}, format="json",
        HTTP_AUTHORIZATION=f"Bearer {mine['access_token']}",
    )
    assert response.status_code == 401
    assert api_client.post("/api/v1/auth/refresh", {"refresh_token": theirs["refresh_token"]}, format="json").status_code == 200


def test_password_change_revokes_every_earlier_token(api_client, user):
    first = login(api_client, user.email).json()
    second = login(api_client, user.email).json()
    response = api_client.post(
        "/api/v1/users/me/password", {"current_password": PASSWORD, "new_password": "A-new-Password-77"}, format="json",
        HTTP_AUTHORIZATION=f"Bearer {first['access_token']}",
    )
    assert response.status_code == 200
    for old in (first, second):
        assert api_client.get("/api/v1/auth/me", HTTP_AUTHORIZATION=f"Bearer {old['access_token']}").status_code == 401
        assert api_client.post("/api/v1/auth/refresh", {"refresh_token": old["refresh_token"]}, format="json").status_code == 401
    fresh = response.json()["access_token"]
    assert api_client.get("/api/v1/auth/me", HTTP_AUTHORIZATION=f"Bearer {fresh}").status_code == 200
    assert login(api_client, user.email, "A-new-Password-77").status_code == 200


def test_password_change_with_a_wrong_current_password_changes_nothing(auth_client, user):
    before = User.objects.get(pk=user.pk).password
    response = auth_client.post("/api/v1/users/me/password", {"current_password": "nope-nope-1", "new_password": "A-new-Password-77"}, format="json")
    assert response.status_code == 400 and "current_password" in response.json()["error"]["fields"]
    assert User.objects.get(pk=user.pk).password == before


def test_an_inactive_users_tokens_stop_working(api_client, user):
    tokens = login(api_client, user.email).json()
    User.objects.filter(pk=user.pk).update(is_active=False)
    assert api_client.get("/api/v1/auth/me", HTTP_AUTHORIZATION=f"Bearer {tokens['access_token']}").status_code == 401
    assert api_client.post("/api/v1/auth/refresh", {"refresh_token": tokens["refresh_token"]}, format="json").status_code == 401


def test_forged_and_expired_tokens_are_401(api_client, user):
    access = AccessToken.for_user(user)
    forged = str(access)[:-4] + ("AAAA" if not str(access).endswith("AAAA") else "BBBB")
    assert api_client.get("/api/v1/auth/me", HTTP_AUTHORIZATION=f"Bearer {forged}").status_code == 401
    expired = AccessToken.for_user(user)
    expired.set_exp(lifetime=datetime.timedelta(seconds=-1))
    response = api_client.get("/api/v1/auth/me", HTTP_AUTHORIZATION=f"Bearer {expired}")
    assert response.status_code == 401 and response.json()["error"]["code"] == "token_not_valid"
    # A refresh token is not an access token.
    refresh = login(api_client, user.email).json()["refresh_token"]
    assert api_client.get("/api/v1/auth/me", HTTP_AUTHORIZATION=f"Bearer {refresh}").status_code == 401


def test_anonymous_me_is_401(api_client):
    response = api_client.get("/api/v1/auth/me")
    assert response.status_code == 401 and response.json()["error"]["code"] == "not_authenticated"


def test_auth_endpoints_are_limited_to_5_per_minute_per_client_ip(api_client, user):
    statuses = [login(api_client, user.email, "Wrong-password-1").status_code for _ in range(5)]
    assert statuses == [401] * 5
    # A forged X-Forwarded-For does not buy another 5 attempts (no trusted proxy configured).
    limited = api_client.post(
        "/api/v1/auth/login", {"email": user.email, "password": PASSWORD}, format="json", HTTP_X_FORWARDED_FOR="203.0.113.9"
    )
    assert limited.status_code == 429
    assert int(limited["Retry-After"]) > 0
    assert limited.json()["error"]["code"] == "throttled"
    # Another client address has its own budget.
    other_ip = api_client.post(
        "/api/v1/auth/login", {"email": user.email, "password": PASSWORD}, format="json", REMOTE_ADDR="198.51.100.7"
    )
    assert other_ip.status_code == 200
