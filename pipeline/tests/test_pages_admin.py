import pytest
from django.test import Client

from mozukai_hub.testing.fixtures import make_user
from pipeline import services
from pipeline.models import Job
from pipeline.owners import JobOwner

from .conftest import balance, free_credits, grant, spendable


@pytest.fixture
def browser(user):
    client = Client()
    client.force_login(user)
    return client


@pytest.mark.django_db
def test_jobs_page_creates_and_shows_job(browser, user, settings):
    grant(user, 5)
    assert browser.get("/jobs/").status_code == 200
    response = browser.post("/jobs/", {"prompt": "a bonsai pot 120 mm wide", "output_format": "glb"})
    job = Job.objects.get()
    assert spendable(user) == 5 + settings.DEFAULT_FREE_CREDITS - 1  # held
    assert response.status_code == 302 and response["Location"] == f"/jobs/{job.id}/"
    page = browser.get(f"/jobs/{job.id}/")
    assert page.status_code == 200
    assert b"jobs-socket" not in page.content  # the socket URL is built by job.js
    assert f'data-job-id="{job.id}"'.encode() in page.content and b"pipeline/job.js" in page.content
    assert browser.post(f"/jobs/{job.id}/cancel/").status_code == 302
    assert Job.objects.get().status == "cancelled"
    assert (balance(user), free_credits()) == (5, settings.DEFAULT_FREE_CREDITS)  # released to its pool


@pytest.mark.django_db
def test_jobs_pages_denied(browser, other_user, user):
    theirs = services.job_create(owner=JobOwner.for_user(other_user), kind="scad_render", params={"scad": "cube(1);"})
    assert browser.get(f"/jobs/{theirs.id}/").status_code == 404
    assert browser.post(f"/jobs/{theirs.id}/cancel/").status_code == 404
    assert Job.objects.get().status == "queued"
    anonymous = Client().get("/jobs/")
    assert anonymous.status_code == 302 and "/accounts/login/" in anonymous["Location"]


@pytest.mark.django_db
def test_jobs_page_without_credits_says_so(browser, user, settings):
    # The client IP's free credits are spent first: with none granted (and no own credits) this
    # user has nothing to spend.
    settings.DEFAULT_FREE_CREDITS = 0
    assert spendable(user) == 0
    response = browser.post("/jobs/", {"prompt": "a bonsai pot", "output_format": "glb"}, follow=True)
    assert b"Insufficient credits" in response.content and Job.objects.count() == 0


@pytest.mark.django_db
def test_admin_lists_and_cancels(user):
    staff = make_user(is_staff=True, is_superuser=True)
    client = Client()
    client.force_login(staff)
    job = services.job_create(owner=JobOwner.for_user(user), kind="scad_render", params={"scad": "cube(1);"})
    assert client.get("/admin/pipeline/job/?kind=scad_render&status=queued").status_code == 200
    assert client.get(f"/admin/pipeline/job/{job.id}/change/").status_code == 200
    client.post("/admin/pipeline/job/", {"action": "cancel_jobs", "_selected_action": [str(job.id)]})
    assert Job.objects.get(pk=job.id).status == "cancelled"
    client.post("/admin/pipeline/job/", {"action": "retry_jobs", "_selected_action": [str(job.id)]})
    assert Job.objects.filter(status="queued").count() == 1
    assert client.get("/admin/pipeline/asset/").status_code == 200
