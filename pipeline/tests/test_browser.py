"""A person's flow in Chromium: sign in, ask for a pot on /jobs/, watch it finish live, see it in 3D."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from playwright.sync_api import sync_playwright

from mozukai_hub.testing.fixtures import PASSWORD
from mozukai_hub.testing.servers import ROOT, database_url, stop_process_group

from .conftest import balance, free_credits, spendable

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]
CHROMIUM = "/usr/bin/chromium"


@pytest.fixture
def stack(daphne_server, settings):
    """daphne and a django-q2 cluster on the test database, as `make run` starts them."""
    env = {**os.environ, "DATABASE_URL": database_url(), "MEDIA_ROOT": str(settings.MEDIA_ROOT),
           "Q_WORKERS": "1", "LOG_LEVEL": "WARNING", "DEFAULT_FREE_CREDITS": "3"}
    worker = subprocess.Popen([sys.executable, "manage.py", "qcluster"], cwd=ROOT, env=env, start_new_session=True,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        yield daphne_server(Q_WORKERS="1", DEFAULT_FREE_CREDITS="3")
    finally:
        stop_process_group(worker)


def test_pot_from_jobs_page_to_3d_viewer(stack, funded_user):
    if not Path(CHROMIUM).exists():
        pytest.fail("Chromium is needed at /usr/bin/chromium (apt-get install chromium).")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--use-gl=swiftshader", "--enable-unsafe-swiftshader"])
        page = browser.new_page()
        page.goto(f"{stack}/accounts/login/")
        page.fill("input[name=login]", funded_user.email)
        page.fill("input[name=password]", PASSWORD)
        page.locator("main form button").first.click()
        page.goto(f"{stack}/jobs/")
        page.fill("textarea[name=prompt]", "a bonsai pot 120 mm wide, 40 mm tall, with a drainage hole")
        page.click("text=Generate")
        page.wait_for_url("**/jobs/*/")
        page.wait_for_selector("#job-status >> text=completed", timeout=20000)  # live, over the websocket
        page.wait_for_function("() => document.querySelector('model-viewer')?.loaded === true", timeout=20000)  # a function: CSP refuses eval
        downloads = page.locator(".downloads a").all_inner_texts()
        browser.close()
    assert sorted(downloads) == ["GLB", "SCAD", "STL"]
    # Charged once, from the address's 3 free credits (spent before the user's own 10).
    assert (spendable(funded_user), free_credits(), balance(funded_user)) == (12, 2, 10)
