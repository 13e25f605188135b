"""The web account flow a person clicks through: sign up, confirm by the e-mailed link, sign in."""

import re

import pytest
from allauth.account.models import EmailAddress
from django.core import mail
from rest_framework.test import APIClient

from accounts.models import User
from mozukai_hub.testing.fixtures import PASSWORD

pytestmark = pytest.mark.django_db


def test_sign_up_confirm_and_sign_in_on_the_web(client):
    page = client.get("/accounts/signup/")
    assert page.status_code == 200
    html = page.content.decode()
    for field in ("email", "username", "full_name", "dob", "password1", "password2"):
        assert f'name="{field}"' in html
    assert 'class="site-header"' in html  # the site layout, not allauth's bare one

    response = client.post("/accounts/signup/", {
        "email": "web@example.com", "username": "webuser", "full_name": "Web Person", "dob": "1991-02-03",
        "password1": PASSWORD, "password2": PASSWORD,
    })
    assert response.status_code == 302
    user = User.objects.get(email="web@example.com")
    assert (user.full_name, str(user.dob)) == ("Web Person", "1991-02-03")
    link = re.search(r"https?://[^/\s]+(/accounts/confirm-email/[^\s]+/)", mail.outbox[0].body).group(1)  # on SITE_URL
    confirm_page = client.get(link)
    assert confirm_page.status_code == 200
    client.post(link)
    assert EmailAddress.objects.get(user=user).verified

    client.logout()
    signed_in = client.post("/accounts/login/", {"login": "WEB@example.com", "password": PASSWORD})
    assert signed_in.status_code == 302
    profile = client.get("/accounts/profile/")
    assert profile.status_code == 200 and b"web@example.com" in profile.content


def test_a_future_date_of_birth_is_a_form_error_and_creates_nothing(client):
    response = client.post("/accounts/signup/", {
        "email": "web@example.com", "username": "webuser", "full_name": "Web Person", "dob": "2999-02-03",
        "password1": PASSWORD, "password2": PASSWORD,
    })
    assert response.status_code == 200
    assert b"cannot be in the future" in response.content
    assert User.objects.count() == 0


def test_profile_page_needs_sign_in(client):
    response = client.get("/accounts/profile/")
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_profile_page_saves_changes(client, user):
    client.force_login(user)
    response = client.post("/accounts/profile/", {"full_name": "Renamed", "dob": "1980-01-01"})
    assert response.status_code == 302
    user.refresh_from_db()
    assert user.full_name == "Renamed"


def test_session_cookies_authenticate_the_api_with_csrf_enforced(user):
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(user)
    assert client.get("/api/v1/users/me").status_code == 200  # safe method: no CSRF needed
    refused = client.patch("/api/v1/users/me", {"full_name": "No token"}, format="json")
    assert refused.status_code == 403
    user.refresh_from_db()
    assert user.full_name == "Ada Moss"
    client.get("/accounts/profile/")  # a page with a form sets the CSRF cookie
    token = client.cookies["csrftoken"].value
    accepted = client.patch("/api/v1/users/me", {"full_name": "With token"}, format="json", HTTP_X_CSRFTOKEN=token)
    assert accepted.status_code == 200
