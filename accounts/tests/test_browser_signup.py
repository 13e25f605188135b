"""A person signs up in Chromium, confirms with the e-mailed link, signs out and in again."""

import re

import pytest
from django.core import mail

from accounts.models import User
from mozukai_hub.testing.fixtures import PASSWORD

pytestmark = pytest.mark.django_db(transaction=True)


def test_sign_up_confirm_sign_out_and_sign_in(page, live_server):
    page.goto("/")
    page.get_by_role("link", name="Sign up").first.click()
    page.fill("input[name=email]", "person@example.com")
    page.fill("input[name=username]", "person")
    page.fill("input[name=full_name]", "A Person")
    page.fill("input[name=dob]", "1990-04-05")
    page.fill("input[name=password1]", PASSWORD)
    page.fill("input[name=password2]", PASSWORD)
    page.locator("form button[type=submit]").last.click()
    page.wait_for_load_state()
    assert User.objects.filter(email="person@example.com", full_name="A Person").exists()

    link = re.search(r"https?://[^/\s]+(/accounts/confirm-email/[^\s]+/)", mail.outbox[-1].body).group(1)
    page.goto(link)
    page.locator("main form button[type=submit]").click()
    page.goto("/accounts/profile/")
    assert "confirmed" in page.inner_text("main")

    page.locator("header form button").click()  # Sign out
    page.goto("/accounts/login/")
    page.fill("input[name=login]", "person@example.com")
    page.fill("input[name=password]", PASSWORD)
    page.locator("main form button[type=submit]").click()
    page.wait_for_url(re.compile(r".*/$"))
    assert "person" in page.inner_text("header")
