"""The flow a new visitor clicks through, in Chromium against the live test server, in dev
payment mode: 3 free credits, sign up, buy a pack, see balance and history."""

import os

import pytest
from django.db import connection

from billing.models import CreditEntry, EntryKind, Payment, PaymentStatus
from mozukai_hub.testing.browser import chromium  # noqa: F401  (fixture)
from mozukai_hub.testing.fixtures import PASSWORD

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def dev_server(daphne_server):
    """daphne on the test database as `make run` starts it: DEBUG on, no Stripe key (dev payment
    mode)."""
    no_stripe = {name: None for name in os.environ if name.startswith("STRIPE_")}
    return daphne_server(DEBUG="true", DEFAULT_FREE_CREDITS="3", **no_stripe)


@pytest.fixture
def page(chromium, dev_server):  # noqa: F811
    context = chromium.new_context(base_url=dev_server, viewport={"width": 1280, "height": 900})
    context.set_default_timeout(15_000)
    yield context.new_page()
    context.close()
    # Playwright runs an event loop in this thread, so the test's ORM calls got a connection of
    # their own (connections are context-local): close it, or the test database cannot be dropped.
    connection.close()


def test_visitor_signs_up_and_buys_a_pack_in_dev_payment_mode(page):
    page.goto("/credits/")
    assert page.get_by_test_id("free-credits").inner_text() == "3"

    page.goto("/accounts/signup/")
    form = page.locator("form").filter(has=page.locator("[name=password1]"))
    form.locator("[name=email]").fill("visitor@example.com")
    form.locator("[name=username]").fill("visitor")
    form.locator("[name=password1]").fill(PASSWORD)
    form.locator("[name=password2]").fill(PASSWORD)
    form.locator("[name=full_name]").fill("Garden Visitor")
    form.locator("[name=dob]").fill("1990-04-01")
    form.locator("[type=submit]").click()
    page.wait_for_load_state()

    page.goto("/credits/")
    assert page.get_by_test_id("balance").inner_text() == "0"
    assert page.get_by_text("Dev payment mode").is_visible()
    page.get_by_test_id("buy-5").click()
    page.wait_for_url("**/credits/dev-checkout/**")
    assert page.get_by_text("DEV PAYMENT MODE").is_visible()
    page.get_by_test_id("dev-pay").click()
    page.wait_for_url("**/credits/success/**")
    assert page.get_by_text("Thank you!").is_visible()
    assert page.get_by_test_id("balance").inner_text() == "5"

    page.goto("/credits/")
    assert page.get_by_test_id("balance").inner_text() == "5"
    assert page.get_by_text("Bought a pack of 5 credits").is_visible()
    assert Payment.objects.get().status == PaymentStatus.SUCCEEDED
    assert CreditEntry.objects.filter(kind=EntryKind.PURCHASE, amount=5).count() == 1
