"""A person's flow in Chromium: sign in, ask for a pot on /jobs/, watch it finish live, see it in 3D."""

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.db import connection
from playwright.sync_api import sync_playwright

from mozukai_hub.testing.fixtures import PASSWORD

from .conftest import balance

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]
ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def stack():
    """daphne and a django-q2 cluster on the test database, as `make run` starts them."""
    db = connection.settings_dict
    env = {**os.environ, "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
           "MEDIA_ROOT": django_settings.MEDIA_ROOT, "Q_WORKERS": "1", "LOG_LEVEL": "WARNING"}
    port = _free_port()
    processes = [
        subprocess.Popen([sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "mozukai_hub.asgi:application"],
                         cwd=ROOT, env=env, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL),
        subprocess.Popen([sys.executable, "manage.py", "qcluster"], cwd=ROOT, env=env, start_new_session=True,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL),
    ]
    deadline = time.monotonic() + 20
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            assert time.monotonic() < deadline, "daphne did not start"
            time.sleep(0.1)
    yield f"http://127.0.0.1:{port}"
    for process in processes:
        os.killpg(process.pid, 9)
        process.wait(timeout=10)


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
        page.wait_for_function("document.querySelector('model-viewer')?.loaded === true", timeout=20000)
        downloads = page.locator(".downloads a").all_inner_texts()
        browser.close()
    assert sorted(downloads) == ["GLB", "SCAD", "STL"]
    assert balance(funded_user) == 9
