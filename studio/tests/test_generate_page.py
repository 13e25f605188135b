"""The photo generator page (/generate/): works without an account, shows the credits left and
the packs, carries no inline script or style; in Chromium an anonymous person uploads a photo,
picks a style, watches it finish, compares and downloads it, and sees the credits go down."""

import os
import re
import subprocess
import sys

import pytest

from billing.services import credit_account_for, credits_grant
from mozukai_hub.testing.polling import wait_until
from mozukai_hub.testing.servers import ROOT, database_url
from pipeline.models import Asset, Job

from .generate_photos import jpeg_with_exif, portrait


@pytest.mark.django_db
def test_the_page_works_without_an_account(client):
    page = client.get("/generate/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "Free credits left" in html
    assert re.search(r'data-testid="credits-left">3<', html)
    assert "5 credits" in html and "10 credits" in html and "20 credits" in html and "Sign in to buy a pack" in html
    for value in ("portraits", "editorial", "documentary"):
        assert f'value="{value}"' in html
    assert 'name="file"' in html and "/static/studio/generate.js" in html
    # CSP: scripts only from files, no inline script, no style attributes.
    assert all("src=" in tag for tag in re.findall(r"<script[^>]*>", html))
    assert " style=" not in html
    assert "'unsafe-inline'" not in page["Content-Security-Policy"].split("script-src")[1].split(";")[0]


@pytest.mark.django_db
def test_a_signed_in_user_sees_what_they_can_spend(client, user):
    credits_grant(user=user, amount=4, reason="test", idempotency_key="page-test")
    client.force_login(user)
    html = client.get("/generate/").content.decode()
    assert "Credits you can spend" in html and re.search(r'data-testid="credits-left">7<', html)  # 3 free + 4 own
    assert "Buy a pack" in html


def _run_queued_photo_job(media_root: str) -> Job:
    """Run the job the page created as a worker does (`pipeline.tasks.job_run`, what django-q2
    calls), in a process of its own on the test database."""
    job = wait_until(lambda: Job.objects.filter(kind="photo_style", status="queued").first(), 20,
                     message="the page created no queued photo job")
    env = {**os.environ, "DATABASE_URL": database_url(), "MEDIA_ROOT": media_root, "LOG_LEVEL": "WARNING"}
    code = "import sys, django; django.setup(); from pipeline.tasks import job_run; print(job_run(sys.argv[1]))"
    run = subprocess.run([sys.executable, "-c", code, str(job.pk)], cwd=ROOT, env=env, capture_output=True, text=True,
                         timeout=120)
    assert run.stdout.strip().endswith("completed"), (run.stdout, run.stderr[-3000:], Job.objects.get(pk=job.pk).error)
    return job


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_an_anonymous_person_styles_a_photo_in_the_browser(page, settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")
    photo = tmp_path / "holiday.jpg"
    photo.write_bytes(jpeg_with_exif(portrait(480, 640), orientation=1))
    problems = []
    page.on("console", lambda message: problems.append(message.text) if message.type == "error" else None)
    page.goto("/")
    page.click("nav >> text=Photo generator")
    page.wait_for_url("**/generate/")
    assert page.inner_text("[data-testid=credits-left]") == "3"
    page.set_input_files("#generate-file", str(photo))
    page.click("text=Documentary")
    page.click("#generate-submit")
    page.wait_for_function("() => document.querySelector('[data-testid=credits-left]').textContent === '2'")
    _run_queued_photo_job(settings.MEDIA_ROOT)
    page.wait_for_selector("[data-testid=generate-status] >> text=completed")
    page.wait_for_function("() => document.getElementById('generate-after').complete"
                           " && document.getElementById('generate-after').naturalWidth > 0")
    before_width = page.evaluate("() => document.getElementById('generate-before').naturalWidth")
    page.fill("#generate-slider", "20")
    clip = page.evaluate("() => document.getElementById('generate-after-frame').style.clipPath")
    with page.expect_download() as download_info:
        page.click("[data-testid=download]")
    downloaded = download_info.value.path().read_bytes()
    assert page.inner_text("[data-testid=credits-left]") == "2"
    assert before_width == 480 and clip == "inset(0px 0px 0px 20%)"
    assert downloaded[:3] == b"\xff\xd8\xff"  # the styled JPEG
    assert not [p for p in problems if "Content Security Policy" in p], problems
    job = Job.objects.get()
    assert (job.status, job.owner_id, job.params["category"], job.credits_state) == ("completed", None, "documentary", "settled")
    assert Asset.objects.filter(job=job).count() == 2  # the photo and the styled photo
    assert credit_account_for(client_ip="127.0.0.1").balance == 2

    # Two more photos queued (each holds its credit at once), then a fourth: the page says how
    # to buy a pack, and nothing is spent.
    for left in ("1", "0"):
        page.click("#generate-submit")
        page.wait_for_function(f"() => document.querySelector('[data-testid=credits-left]').textContent === '{left}'")
        page.wait_for_selector("#generate-submit:not([disabled])")
    page.click("#generate-submit")
    page.wait_for_selector("#generate-error >> text=credit pack")
    assert page.get_attribute("#generate-error a", "href") == "/credits/"
    page.wait_for_load_state("networkidle")  # the credits refresh that follows ends before the test does
    assert Job.objects.count() == 3 and credit_account_for(client_ip="127.0.0.1").balance == 0
    assert Asset.objects.count() == 4  # three photos and one styled photo: the refused fourth stored nothing
