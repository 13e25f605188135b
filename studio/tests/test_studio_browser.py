"""A person's flow in Chromium: sign in, start a thumbnail on /studio/, upload a selfie, see the
preview, generate two variants with the real local engine (studio.thumbnail), watch them finish
live and see the gallery with the score reports and the downloads.

The job is run by the worker's own task function (`pipeline.tasks.job_run`) from this process
once daphne has queued it: the same code a django-q2 worker runs, without the seconds a cluster
takes to start and stop; its events reach the page over daphne's jobs websocket."""

import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from PIL import Image
from playwright.sync_api import sync_playwright

from mozukai_hub.testing.fixtures import PASSWORD
from pipeline.models import Job
from pipeline.tasks import job_run
from pipeline.tests.conftest import grant
from studio.models import Project, ProjectInput

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]
CHROMIUM = "/usr/bin/chromium"


def run_queued_job(user, timeout=15.0) -> str:
    """Run the user's queued job as a worker would. (In a thread of its own: Playwright's sync
    API keeps an event loop in the test's thread, where Django refuses database calls.)"""
    from django.db import connection

    try:
        give_up = time.monotonic() + timeout
        while time.monotonic() < give_up:
            job = Job.objects.filter(owner=user, status=Job.Status.QUEUED).first()
            if job:
                return job_run(str(job.pk))
            time.sleep(0.1)
        return "no job queued"
    finally:
        connection.close()


def test_thumbnail_from_studio_page_to_gallery(daphne_server, user, tmp_path):
    stack = daphne_server()
    if not Path(CHROMIUM).exists():
        pytest.fail("Chromium is needed at /usr/bin/chromium (apt-get install chromium).")
    grant(user, 10)
    selfie = tmp_path / "me.png"
    Image.new("RGB", (120, 160), "#c08060").save(selfie)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = browser.new_page()
        errors = []
        page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
        page.goto(f"{stack}/accounts/login/")
        page.fill("input[name=login]", user.email)
        page.fill("input[name=password]", PASSWORD)
        page.locator("main form button").first.click()
        page.goto(f"{stack}/studio/")
        page.select_option("#new-thumbnail select[name=platform]", "youtube")
        page.fill("#new-thumbnail input[name=headline]", "Bonsai in ten minutes")
        page.select_option("#new-thumbnail select[name=vibe]", "bold")
        page.click("text=Create thumbnail")
        page.wait_for_url("**/studio/thumbnails/*/")
        assert page.input_value("#f-width") == "1280" and page.input_value("#f-headline") == "Bonsai in ten minutes"
        page.set_input_files("#f-selfie", str(selfie))
        page.wait_for_selector("#inputs-list >> text=selfie")
        # The preview is drawn at the frame's aspect.
        assert page.evaluate("() => [document.getElementById('preview').width, document.getElementById('preview').height]") == [640, 360]
        page.fill("#f-subtext", "A beginner's guide")
        assert page.input_value("#f-model") == "local"  # the project's model, the default
        page.fill("#f-variants", "2")
        with ThreadPoolExecutor(1) as worker:
            run = worker.submit(run_queued_job, user)
            page.click("#generate")
            assert run.result(timeout=60) == "completed"
        page.wait_for_selector("#job-status >> text=completed", timeout=30000)  # live, over the websocket
        page.wait_for_selector(".variant[data-variant='2'] img", timeout=10000)
        page.wait_for_function("() => [...document.querySelectorAll('.variant img')].every(i => i.complete && i.naturalWidth === 1280)")
        reports = page.locator(".variant .report").all_inner_texts()
        downloads = page.locator(".variant a[download]").all_inner_texts()
        page.locator(".variant[data-variant='1'] button", has_text="Full size").click()
        assert page.locator("#full-view").is_visible()
        browser.close()
    assert len(reports) == 2 and all("Legible at 168×94" in r and "Contrast" in r for r in reports)
    assert downloads == ["Download PNG", "Download JPEG"] * 2  # YouTube: a JPEG under 2 MB too
    project = Project.objects.get(owner=user)
    assert (project.headline, project.subtext) == ("Bonsai in ten minutes", "A beginner's guide")
    assert ProjectInput.objects.filter(project=project, asset__role="selfie").count() == 1
    assert not [e for e in errors if "Content Security Policy" in e], errors
