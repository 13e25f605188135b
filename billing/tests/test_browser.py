"""The flow a new visitor clicks through, in Chromium against the live test server, in dev
payment mode: 3 free credits, sign up, buy a pack, see balance and history."""

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from billing.models import CreditEntry, EntryKind, Payment, PaymentStatus
from mozukai_hub.testing.browser import chromium  # noqa: F401  (fixture)
from mozukai_hub.testing.fixtures import PASSWORD

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def dev_server():
    """daphne on the test database as `make run` starts it: DEBUG on, no Stripe key (dev payment
    mode). A separate process, so its connections end with it."""
    db = connection.settings_dict
    env = {k: v for k, v in os.environ.items() if not k.startswith("STRIPE_")}
    env.update(DATABASE_URL=f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}", DEBUG="true",
               DEFAULT_FREE_CREDITS="3", MEDIA_ROOT=str(settings.MEDIA_ROOT), LOG_LEVEL="WARNING")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = subprocess.Popen([sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "mozukai_hub.asgi:application"],
                              cwd=ROOT, env=env, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                assert server.poll() is None and time.monotonic() < deadline, "daphne did not start"
                time.sleep(0.1)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.terminate()
        server.wait(timeout=20)


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
