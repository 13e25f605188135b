"""Confirmation and password-reset e-mails are signed with SITE_NAME and link to SITE_URL."""

import re

import pytest
from django.core import mail

from mozukai_hub.testing.fixtures import PASSWORD, make_user

SITE = "https://shop.mozukai.test"


@pytest.fixture(autouse=True)
def _public_site(settings):
    settings.SITE_URL = SITE
    settings.SITE_NAME = "Mozukai Hub"


def assert_signed_by_the_site(message) -> None:
    assert message.subject.startswith("[Mozukai Hub] ")
    assert "example.com" not in message.subject + message.body
    assert "Hello from Mozukai Hub!" in message.body
    assert f"Thank you for using Mozukai Hub!\n{SITE}" in message.body


@pytest.mark.django_db
def test_signup_confirmation_email_names_the_site(api_client, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = api_client.post("/api/v1/auth/signup", {
            "email": "fern@mozukai.test", "password": PASSWORD, "confirm_password": PASSWORD,
            "username": "fern", "full_name": "Fern Moss", "dob": "1990-01-01",
        }, format="json", HTTP_HOST="localhost")
    assert response.status_code == 201, response.content
    (message,) = mail.outbox
    assert_signed_by_the_site(message)
    assert "register an account on shop.mozukai.test" in message.body
    link = re.search(r"https?://\S+/accounts/confirm-email/\S+/", message.body).group(0)
    assert link.startswith(f"{SITE}/accounts/confirm-email/")  # not the Host the request named


@pytest.mark.django_db
def test_web_signup_confirmation_email_names_the_site(client):
    response = client.post("/accounts/signup/", {
        "email": "reed@mozukai.test", "username": "reed", "password1": PASSWORD, "password2": PASSWORD,
        "full_name": "Reed Pond", "dob": "1991-02-03",
    })
    assert response.status_code == 302, response.content
    (message,) = mail.outbox
    assert_signed_by_the_site(message)
    assert f"{SITE}/accounts/confirm-email/" in message.body


@pytest.mark.django_db
def test_password_reset_email_names_the_site_and_its_link_works(client):
    make_user(email="moss@mozukai.test")
    response = client.post("/accounts/password/reset/", {"email": "moss@mozukai.test"})
    assert response.status_code == 302
    (message,) = mail.outbox
    assert_signed_by_the_site(message)
    link = re.search(rf"{re.escape(SITE)}(/accounts/password/reset/key/\S+/)", message.body)
    assert link, message.body
    assert client.get(link.group(1)).status_code in (200, 302)
