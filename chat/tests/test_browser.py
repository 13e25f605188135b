"""A person in Chromium: asks for a quadcopter frame on /c/, edits the arm thickness on the
requirements card, presses "Generate model" and sees the model; daphne and a django-q2 cluster
run as `make run` starts them (the actions are tasks of that cluster)."""

import os
import signal
import subprocess
import sys

import pytest
from playwright.sync_api import sync_playwright

from chat.models import Chat, ChatRun, Message
from mozukai_hub.testing.browser import CHROMIUM_ARGS, CHROMIUM_PATH
from mozukai_hub.testing.fixtures import PASSWORD
from mozukai_hub.testing.servers import ROOT, database_url

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def stack(daphne_server, settings):
    env = {**os.environ, "DATABASE_URL": database_url(), "MEDIA_ROOT": str(settings.MEDIA_ROOT), "Q_WORKERS": "2",
           "LOG_LEVEL": "WARNING", "CHAT_BACKEND": "local"}
    worker = subprocess.Popen([sys.executable, "manage.py", "qcluster"], cwd=ROOT, env=env, start_new_session=True,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        yield daphne_server(CHAT_BACKEND="local")
    finally:
        os.killpg(worker.pid, signal.SIGKILL)  # nothing of it is under test any more: no slow graceful stop
        worker.wait(timeout=10)


def test_quadcopter_frame_from_chat_to_3d_model(stack, user):
    if not os.path.exists(CHROMIUM_PATH):
        pytest.fail(f"Chromium is needed at {CHROMIUM_PATH} (apt-get install chromium).")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM_PATH,
                                             args=[*CHROMIUM_ARGS, "--use-gl=swiftshader", "--enable-unsafe-swiftshader"])
        page = browser.new_page()
        page.set_default_timeout(30_000)
        problems = []
        page.on("console", lambda message: problems.append(message.text) if message.type == "error" else None)
        page.goto(f"{stack}/accounts/login/")
        page.fill("input[name=login]", user.email)
        page.fill("input[name=password]", PASSWORD)
        page.locator("main form button").first.click()
        page.goto(f"{stack}/c/")
        page.fill("input[name=title]", "Quad frame")
        page.click("text=New chat")
        page.wait_for_url("**/c/*")
        page.wait_for_function("() => document.getElementById('chat').dataset.connected === '1'")
        page.fill("#composer-text", "Design a small quadcopter frame, 160 mm motor-to-motor with 3 mm thick arms")
        page.click("#send")
        thickness = page.locator(".req-card input[name='dimension-arm_thickness']")
        thickness.wait_for()
        assert thickness.input_value() == "3"
        assert page.locator(".msg-user .msg-text").first.inner_text().startswith("Design a small quadcopter frame")
        thickness.fill("4")
        page.click(".req-card >> text=Generate model")
        page.wait_for_selector(".report.ok", timeout=60_000)
        page.wait_for_function("() => document.querySelector('model-viewer')?.loaded === true", timeout=30_000)
        downloads = sorted(page.locator(".msg-assistant .downloads a").all_inner_texts())
        scad = page.locator(".msg-assistant details.scad code").last.text_content()
        # a reload shows the same conversation, rendered by the server
        page.reload()
        page.wait_for_function("() => document.querySelector('model-viewer')?.loaded === true", timeout=30_000)
        shown = page.locator(".msg").count()
        browser.close()
    assert shown == Message.objects.count() == 4  # ask, requirements, generate, model
    assert downloads == ["GLB", "STL"]
    chat = Chat.objects.get(title="Quad frame")
    run = ChatRun.objects.get(chat=chat, action="generate_scad")
    assert run.status == "completed" and run.output["report"]["ok"]
    assert run.design["expected"]["arm_thickness_mm"] == 4 and run.design["expected"]["motor_spacing_mm"] == 160
    assert "arm_t = 4;" in scad and "span = 160;" in scad
    assert not [p for p in problems if "Content Security Policy" in p], problems
