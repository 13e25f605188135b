"""The RunPod engine against a local server that answers as RunPod's serverless API documents."""

import io
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import trimesh

from pipeline import services, tasks
from pipeline.engines.runpod import RunPodClient
from pipeline.models import Asset, Job

from .conftest import balance

ENDPOINT = "ep-test"


def _glb() -> bytes:
    return trimesh.creation.box(extents=(0.1, 0.05, 0.1)).export(file_type="glb")


class FakeRunPod(BaseHTTPRequestHandler):
    state: dict = {}

    def _send(self, code: int, body=None, raw: bytes | None = None):
        data = raw if raw is not None else json.dumps(body or {}).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/octet-stream" if raw is not None else "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        s = FakeRunPod.state
        if self.path == "/files/model.glb":
            return self._send(200, raw=_glb())
        s["calls"].append(("GET", self.path, self.headers.get("Authorization")))
        if self.path == f"/v2/{ENDPOINT}/health":
            return self._send(200, {"jobs": {"inQueue": 0}, "workers": {"idle": 1}})
        if self.path.startswith(f"/v2/{ENDPOINT}/status/"):
            if s["status_failures"]:
                s["status_failures"] -= 1
                return self._send(503, {"error": "busy"})
            s["polls"] += 1
            status = s["script"][min(s["polls"] - 1, len(s["script"]) - 1)]
            body = {"id": "rp-1", "status": status}
            if status == "COMPLETED":
                base = f"http://127.0.0.1:{self.server.server_port}"
                body["output"] = {"outputs": [{"type": "glb", "url": f"{base}/files/model.glb"}], "mesh": {"watertight": True}}
            if status == "FAILED":
                body["error"] = "CUDA out of memory"
            return self._send(200, body)
        self._send(404, {"error": "not found"})

    def do_POST(self):
        s = FakeRunPod.state
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length) or b"{}")
        s["calls"].append(("POST", self.path, self.headers.get("Authorization")))
        if self.path == f"/v2/{ENDPOINT}/run":
            s["inputs"].append(body["input"])
            if s["run_answers"]:  # e.g. a 503 after the job was (or was not) started
                return self._send(s["run_answers"].pop(0), {"error": "scripted"})
            return self._send(200, {"id": "rp-1", "status": "IN_QUEUE"})
        if self.path == f"/v2/{ENDPOINT}/cancel/rp-1":
            s["cancelled"] = True
            return self._send(200, {"id": "rp-1", "status": "CANCELLED"})
        self._send(404, {"error": "not found"})

    def log_message(self, *args):
        pass


@pytest.fixture
def runpod(settings):
    FakeRunPod.state = {"calls": [], "inputs": [], "polls": 0, "script": ["IN_QUEUE", "IN_PROGRESS", "COMPLETED"],
                        "status_failures": 0, "run_answers": [], "cancelled": False}
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeRunPod)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    settings.RUNPOD_API_KEY = "rp-key"
    settings.RUNPOD_ENDPOINT_ID = ENDPOINT
    settings.RUNPOD_BASE_URL = f"http://127.0.0.1:{server.server_port}/v2"
    settings.RUNPOD_POLL_SECONDS = 0.05
    yield FakeRunPod.state
    server.shutdown()


def _create(client, **extra):
    response = client.post("/api/v1/jobs", {"prompt": "a bonsai pot 120 mm wide", "engine": "runpod", **extra}, format="json")
    assert response.status_code == 201, response.content
    return response.json()["id"]


@pytest.mark.django_db
def test_unconfigured_runpod_is_400(auth_client, funded_user, settings):
    settings.RUNPOD_API_KEY = ""
    response = auth_client.post("/api/v1/jobs", {"prompt": "a pot", "engine": "runpod"}, format="json")
    assert response.status_code == 400 and response.json()["error"]["code"] == "engine_unconfigured"
    assert Job.objects.count() == 0


@pytest.mark.django_db(transaction=True)
def test_runpod_job_completes_and_outputs_are_copied(runpod, auth_client, funded_user):
    runpod["status_failures"] = 1  # one 503 on status is retried
    job_id = _create(auth_client)
    assert tasks.job_run(job_id) == "completed"
    job = Job.objects.get(pk=job_id)
    assert job.provider_job_id == "rp-1" and job.engine == "runpod" and job.result["runpod_id"] == "rp-1"
    assert runpod["inputs"] == [{"action": "text_to_3d", "prompt": "a bonsai pot 120 mm wide", "output_format": "glb"}]
    assert all(auth == "Bearer rp-key" for _, _, auth in runpod["calls"])
    asset = Asset.objects.get(job=job)
    assert asset.is_primary and asset.file and asset.size == len(_glb())
    mesh = trimesh.load(io.BytesIO(asset.file.open("rb").read()), file_type="glb", force="mesh")
    assert mesh.extents == pytest.approx([0.1, 0.05, 0.1])
    assert balance(funded_user) == 9
    assert RunPodClient().health()["workers"] == {"idle": 1}


@pytest.mark.django_db(transaction=True)
def test_a_5xx_on_submit_is_not_resubmitted_but_a_429_is(runpod, auth_client, funded_user):
    """A 503 from /run may come after RunPod queued the job: submitting again could start and
    bill a second one. A 429 is a refusal, so that one is retried."""
    runpod["run_answers"] = [503]
    job_id = _create(auth_client)
    assert tasks.job_run(job_id) == "failed"
    job = Job.objects.get(pk=job_id)
    assert job.error_type == "provider_unavailable" and len(runpod["inputs"]) == 1
    assert balance(funded_user) == 10

    runpod["inputs"].clear()
    runpod["run_answers"] = [429]
    job_id = _create(auth_client)
    assert tasks.job_run(job_id) == "completed"
    assert len(runpod["inputs"]) == 2 and balance(funded_user) == 9


@pytest.mark.django_db(transaction=True)
def test_runpod_failure_releases_credits(runpod, auth_client, funded_user):
    runpod["script"] = ["IN_PROGRESS", "FAILED"]
    job_id = _create(auth_client)
    assert tasks.job_run(job_id) == "failed"
    job = Job.objects.get(pk=job_id)
    assert job.error_type == "provider_failed" and "CUDA" in job.error
    assert balance(funded_user) == 10


@pytest.mark.django_db(transaction=True)
def test_cancel_while_polling_cancels_remote_job(runpod, auth_client, funded_user):
    runpod["script"] = ["IN_PROGRESS"]  # never finishes by itself
    job_id = _create(auth_client)
    runner = threading.Thread(target=tasks.job_run, args=(job_id,))
    runner.start()
    deadline = time.monotonic() + 10
    while not Job.objects.filter(pk=job_id, provider_job_id="rp-1").exists():
        assert time.monotonic() < deadline
        time.sleep(0.05)
    services.job_cancel(job=Job.objects.get(pk=job_id))
    runner.join(timeout=10)
    assert not runner.is_alive()
    assert runpod["cancelled"] is True and Job.objects.get(pk=job_id).status == "cancelled"
    assert balance(funded_user) == 10


@pytest.mark.django_db(transaction=True)
def test_rerun_resumes_the_stored_runpod_job(runpod, auth_client, funded_user):
    job_id = _create(auth_client)
    Job.objects.filter(pk=job_id).update(provider_job_id="rp-1")  # as left by a worker that died after submitting
    assert tasks.job_run(job_id) == "completed"
    assert runpod["inputs"] == []  # nothing submitted twice
