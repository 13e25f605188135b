"""Chromium through Playwright for tests a person would click through.

Debian's chromium is used (`CHROMIUM_PATH`, default /usr/bin/chromium): browser downloads are
impossible here. The flags keep Chromium off the network it cannot reach anyway.

Playwright's sync API runs an asyncio loop in the test's thread while it is open, so it is
started per test (a session-wide browser would break later tests that use `async_to_sync`), and
Django's async-safety check is relaxed only for that test: the ORM calls in the test body are
ordinary synchronous calls in the main thread.
"""

import os

import pytest

CHROMIUM_PATH = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture
def chromium(monkeypatch):
    from playwright.sync_api import sync_playwright

    if not os.path.exists(CHROMIUM_PATH):
        pytest.fail(f"Chromium is missing at {CHROMIUM_PATH}: apt-get install -y chromium")
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM_PATH, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()
            # The test body's ORM calls ran while Playwright's loop ran in this thread, so their
            # connections belong to that context: give them back here, inside it, or they stay
            # checked out of the pool and keep the test database open when it is dropped.
            from django.db import connections

            connections.close_all()


@pytest.fixture
def page(chromium, live_server):
    """A fresh browser page whose relative URLs go to the live test server."""
    context = chromium.new_context(base_url=live_server.url, viewport={"width": 1280, "height": 900})
    context.set_default_timeout(15_000)
    page = context.new_page()
    yield page
    context.close()
