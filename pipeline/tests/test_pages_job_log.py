"""The job page's log speaks to customers: status and progress in words, no program output."""

import pytest
from django.test import Client

from mozukai_hub.testing.fixtures import make_user
from pipeline import tasks
from pipeline.models import Job, JobEvent

from .conftest import grant

POT = "a bonsai pot 120 mm wide, 40 mm tall, with a drainage hole"


@pytest.mark.django_db(transaction=True)
def test_job_page_log_is_readable_and_hides_program_output(user):
    grant(user, 5)
    client = Client()
    client.force_login(user)
    client.post("/jobs/", {"prompt": POT, "output_format": "glb"})
    job = Job.objects.get()
    assert tasks.job_run(job.id) == "completed"
    # OpenSCAD's own output is recorded for staff …
    program_output = " ".join(e.data["message"] for e in JobEvent.objects.filter(job=job, type="log"))
    assert "CGAL" in program_output

    page = client.get(f"/jobs/{job.id}/").content.decode()
    log = page[page.index('id="job-events"'):]
    assert "{'" not in page and "CGAL" not in page  # … never for the customer
    assert "Bonsai pot: 120 × 120 × 40 mm, 1 drainage hole of 12 mm (15%)" in log
    assert "Waiting for a free worker" in log and "Working on it" in log and "Done" in log
    assert "Rendering with OpenSCAD (30%)" in log and "GLB file ready" in log
    # The live log's words come from the same table as the page's.
    assert "data-status-words=" in page and "&quot;queued&quot;: &quot;Waiting for a free worker&quot;" in page


@pytest.mark.django_db(transaction=True)
def test_job_page_log_shows_a_failure_in_words(user):
    grant(user, 5)
    client = Client()
    client.force_login(user)
    client.post("/jobs/", {"prompt": "a red dragon", "output_format": "glb"})
    job = Job.objects.get()
    assert tasks.job_run(job.id) == "failed"
    page = client.get(f"/jobs/{job.id}/").content.decode()
    log = page[page.index('id="job-events"'):]
    assert "Failed: Could not tell what to model from the prompt" in log
    assert "status:" not in log and "progress:" not in log


@pytest.mark.django_db
def test_admin_job_page_keeps_program_output_for_staff(user):
    grant(user, 5)
    job_client = Client()
    job_client.force_login(user)
    job_client.post("/jobs/", {"prompt": POT, "output_format": "glb"})
    job = Job.objects.get()
    JobEvent.objects.create(job=job, seq=job.last_event_seq + 100, type="log", data={"message": "CGAL Polyhedrons in cache: 1"})
    staff = Client()
    staff.force_login(make_user(is_staff=True, is_superuser=True))
    page = staff.get(f"/admin/pipeline/job/{job.id}/change/").content.decode()
    assert "CGAL Polyhedrons in cache: 1" in page
    assert "CGAL" not in job_client.get(f"/jobs/{job.id}/").content.decode()
