"""Jobs through a real django-q2 cluster (`manage.py qcluster` subprocess) on PostgreSQL."""

import io
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import trimesh
from django.conf import settings as django_settings
from django.db import connection
from django_q.models import Task

from mozukai_hub.testing.polling import wait_until
from pipeline import services
from pipeline.models import Job

from .conftest import balance, free_credits, spendable

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]
ROOT = Path(__file__).resolve().parents[2]
LEASE = 2
TEST_ENGINES = "pipeline.tests.engines"


class Worker:
    def __init__(self, media_root: str):
        db = connection.settings_dict
        self.env = {
            **os.environ,
            "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
            "MEDIA_ROOT": media_root,
            "PIPELINE_LEASE_SECONDS": str(LEASE),
            "PIPELINE_ENGINE_MODULES": TEST_ENGINES,
            "Q_WORKERS": "1",
            "LOG_LEVEL": "WARNING",
        }
        self.process = None

    def start(self):
        self.process = subprocess.Popen(
            [sys.executable, "manage.py", "qcluster"], cwd=ROOT, env=self.env, start_new_session=True,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )

    def kill(self):
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)


@pytest.fixture
def worker(settings):
    if connection.vendor != "postgresql":
        pytest.fail("The worker tests need PostgreSQL (run them through mozukai_hub.testing.services).")
    settings.DEFAULT_FREE_CREDITS = 3  # the test clients' address gets 3 free credits, spent before the user's own
    settings.PIPELINE_LEASE_SECONDS = LEASE
    settings.PIPELINE_ENGINE_MODULES = [TEST_ENGINES]
    __import__(TEST_ENGINES)
    handle = Worker(django_settings.MEDIA_ROOT)
    yield handle
    handle.kill()


def wait_for(predicate, timeout=25.0, reap=False):
    def check():
        if reap:
            services.job_reap_expired()  # what the every-minute schedule does, sooner
        return predicate()

    return wait_until(check, timeout, interval=0.2)


def status(job_id) -> str:
    return Job.objects.values_list("status", flat=True).get(pk=job_id)


def test_pot_job_from_post_to_download(worker, auth_client, funded_user):
    worker.start()
    job_id = auth_client.post(
        "/api/v1/jobs", {"prompt": "a bonsai pot 120 mm wide, 40 mm tall, with a drainage hole", "output_format": "glb"},
        format="json",
    ).json()["id"]
    wait_for(lambda: status(job_id) in {"completed", "failed"})
    job = Job.objects.get(pk=job_id)
    assert job.status == "completed", job.error
    link = auth_client.get(f"/api/v1/jobs/{job_id}/download-url").json()
    data = b"".join(auth_client.get(link["url"]).streaming_content)
    mesh = trimesh.load(io.BytesIO(data), file_type="glb", force="mesh")
    assert mesh.is_watertight and mesh.extents == pytest.approx([0.12, 0.04, 0.12], abs=0.001)
    # Charged once, from the free credits (spent first); the user's own 10 are untouched.
    assert (spendable(funded_user), free_credits(), balance(funded_user)) == (12, 2, 10)
    assert job.credits_state == "settled"


def test_cancel_while_queued_and_while_running(worker, auth_client, funded_user):
    queued = auth_client.post("/api/v1/jobs", {"prompt": "a bonsai pot"}, format="json").json()["id"]
    assert auth_client.post(f"/api/v1/jobs/{queued}/cancel").json()["status"] == "cancelled"
    worker.start()
    running = auth_client.post(
        "/api/v1/jobs", {"kind": "scad_render", "engine": "slow_test", "params": {"scad": "cube(5);"}}, format="json",
    ).json()["id"]
    wait_for(lambda: status(running) == "processing")
    assert auth_client.post(f"/api/v1/jobs/{running}/cancel").json()["status"] == "cancelled"
    # The worker reaches its next checkpoint and stops: its task ends as "aborted".
    wait_for(lambda: any(task.result == "aborted" for task in Task.objects.filter(name=f"job:{running}")))
    job = Job.objects.get(pk=running)
    assert job.status == "cancelled" and not job.assets.filter(asset_type="glb").exists()
    assert status(queued) == "cancelled"
    # Both holds released, each once, back to the free credits they were taken from.
    assert (spendable(funded_user), free_credits(), balance(funded_user)) == (13, 3, 10)


def test_worker_killed_mid_job_is_retried_and_charged_once(worker, auth_client, funded_user, settings):
    settings.CREDIT_PRICES = {**settings.CREDIT_PRICES, "scad_render": 2}
    # One free credit for the address: the 2-credit hold takes it and 1 of the user's own (a
    # split hold), so "charged once" is checked on both pools.
    settings.DEFAULT_FREE_CREDITS = 1
    assert (spendable(funded_user), free_credits(), balance(funded_user)) == (11, 1, 10)
    worker.start()
    job_id = auth_client.post(
        "/api/v1/jobs", {"kind": "scad_render", "engine": "slow_test", "params": {"scad": "cube(5);", "prompt": "8"}},
        format="json",
    ).json()["id"]
    wait_for(lambda: Job.objects.filter(pk=job_id, progress__gte=2).exists())
    worker.kill()
    assert status(job_id) == "processing"
    worker.start()
    wait_for(lambda: status(job_id) in {"completed", "failed"}, timeout=30, reap=True)
    job = Job.objects.get(pk=job_id)
    assert job.status == "completed" and job.attempts == 2, job.error
    assert (spendable(funded_user), free_credits(), balance(funded_user)) == (9, 0, 9)
    assert job.credits_state == "settled"


def test_job_that_always_crashes_its_worker_stops_after_the_limit(worker, auth_client, funded_user, settings):
    settings.CREDIT_PRICES = {**settings.CREDIT_PRICES, "scad_render": 2}
    worker.start()
    job_id = auth_client.post(
        "/api/v1/jobs", {"kind": "scad_render", "engine": "crash_test", "params": {"scad": "cube(5);"}}, format="json",
    ).json()["id"]
    wait_for(lambda: status(job_id) == "failed", timeout=35, reap=True)
    job = Job.objects.get(pk=job_id)
    assert job.attempts == settings.PIPELINE_MAX_ATTEMPTS and job.error_type == "worker_lost"
    # The 2-credit hold came from the free credits and went back there, once.
    assert (spendable(funded_user), free_credits(), balance(funded_user)) == (13, 3, 10)
    assert job.credits_state == "released"
