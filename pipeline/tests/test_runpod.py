"""The RunPod engine against a local server that answers as RunPod's serverless API documents."""

import io
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import trimesh

from billing.services import credits_spendable
from mozukai_hub.testing.images import png_bytes
from mozukai_hub.testing.polling import wait_until
from pipeline import services, tasks
from pipeline.engines.runpod import RunPodClient, runpod_outputs
from pipeline.models import Asset, Job, JobEvent

ENDPOINT = "ep-test"


def spendable(user) -> int:
    return credits_spendable(user=user, client_ip="127.0.0.1")


def _glb() -> bytes:
    return trimesh.creation.box(extents=(0.1, 0.05, 0.1)).export(file_type="glb")


# What the fake worker's output URLs serve.
FILES = {
    "model.glb": _glb,
    "preview.png": lambda: png_bytes((16, 12)),
    "turntable.mp4": lambda: b"\x00\x00\x00\x18ftypmp42" + bytes(64),
    "report.json": lambda: b'{"faces": 12}',
}


class FakeRunPod(BaseHTTPRequestHandler):
    state: dict = {}

    def _send(self, code: int, body=None, raw: bytes | None = None, headers: dict | None = None):
        data = raw if raw is not None else json.dumps(body or {}).encode()
        self.send_response(code)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Type", "application/octet-stream" if raw is not None else "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        s = FakeRunPod.state
        if self.path.startswith("/files/"):
            s["downloads"].append((self.path, self.headers.get("Authorization")))
            return self._send(200, raw=FILES[self.path.removeprefix("/files/")]())
        s["calls"].append(("GET", self.path, self.headers.get("Authorization")))
        if self.path == f"/v2/{ENDPOINT}/health":
            return self._send(200, {"jobs": {"inQueue": 0}, "workers": {"idle": 1}})
        if self.path.startswith(f"/v2/{ENDPOINT}/status/"):
            if s["status_failures"]:
                s["status_failures"] -= 1
                return self._send(503, {"error": "busy"})
            if s["status_answers"]:  # e.g. a 429 with Retry-After
                code, headers = s["status_answers"].pop(0)
                return self._send(code, {"error": "scripted"}, headers=headers)
            s["polls"] += 1
            status = s["script"][min(s["polls"] - 1, len(s["script"]) - 1)]
            body = {"id": "rp-1", "status": status}
            if status == "COMPLETED":
                base = f"http://127.0.0.1:{self.server.server_port}"
                outputs = [{**item, "url": f"{base}/files/{item['url']}"} for item in s["outputs"]]
                body["output"] = {"outputs": outputs, "mesh": {"watertight": True}}
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
            if s["run_lost"]:  # RunPod got it (and started the job), the answer never arrived
                s["run_lost"] -= 1
                self.close_connection = True
                self.connection.shutdown(2)
                return
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
                        "status_failures": 0, "status_answers": [], "run_answers": [], "run_lost": 0, "cancelled": False,
                        "outputs": [{"type": "glb", "url": "model.glb"}], "downloads": []}
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
    before = spendable(funded_user)
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
    assert runpod["downloads"] == [("/files/model.glb", "Bearer rp-key")]  # same origin as the API in this fake
    assert spendable(funded_user) == before - 1 and job.credits_state == "settled"
    assert RunPodClient().health()["workers"] == {"idle": 1}


@pytest.mark.django_db(transaction=True)
def test_a_5xx_on_submit_is_not_resubmitted_but_a_429_is(runpod, auth_client, funded_user):
    """A 503 from /run may come after RunPod queued the job: submitting again could start and
    bill a second one. A 429 is a refusal, so that one is retried."""
    before = spendable(funded_user)
    runpod["run_answers"] = [503]
    job_id = _create(auth_client)
    assert tasks.job_run(job_id) == "failed"
    job = Job.objects.get(pk=job_id)
    assert job.error_type == "provider_unavailable" and len(runpod["inputs"]) == 1
    assert spendable(funded_user) == before and job.provider_job_id == ""

    runpod["inputs"].clear()
    runpod["run_answers"] = [429]
    job_id = _create(auth_client)
    assert tasks.job_run(job_id) == "completed"
    assert len(runpod["inputs"]) == 2 and spendable(funded_user) == before - 1


@pytest.mark.django_db(transaction=True)
def test_runpod_failure_releases_credits(runpod, auth_client, funded_user):
    before = spendable(funded_user)
    runpod["script"] = ["IN_PROGRESS", "FAILED"]
    job_id = _create(auth_client)
    assert tasks.job_run(job_id) == "failed"
    job = Job.objects.get(pk=job_id)
    assert job.error_type == "provider_failed" and "CUDA" in job.error
    assert spendable(funded_user) == before


@pytest.mark.django_db(transaction=True)
def test_cancel_while_polling_cancels_remote_job(runpod, auth_client, funded_user):
    before = spendable(funded_user)
    runpod["script"] = ["IN_PROGRESS"]  # never finishes by itself
    job_id = _create(auth_client)
    runner = threading.Thread(target=tasks.job_run, args=(job_id,))
    runner.start()
    wait_until(lambda: Job.objects.filter(pk=job_id, provider_job_id="rp-1").exists(), 10)
    services.job_cancel(job=Job.objects.get(pk=job_id))
    runner.join(timeout=10)
    assert not runner.is_alive()
    assert runpod["cancelled"] is True and Job.objects.get(pk=job_id).status == "cancelled"
    assert spendable(funded_user) == before


@pytest.mark.django_db(transaction=True)
def test_rerun_resumes_the_stored_runpod_job(runpod, auth_client, funded_user):
    job_id = _create(auth_client)
    Job.objects.filter(pk=job_id).update(provider_job_id="rp-1")  # as left by a worker that died after submitting
    assert tasks.job_run(job_id) == "completed"
    assert runpod["inputs"] == []  # nothing submitted twice


@pytest.mark.django_db(transaction=True)
def test_a_lost_answer_to_run_is_not_resubmitted(runpod, auth_client, funded_user):
    runpod["run_lost"] = 1
    job_id = _create(auth_client)
    assert tasks.job_run(job_id) == "failed"
    assert Job.objects.get(pk=job_id).error_type == "provider_unavailable" and len(runpod["inputs"]) == 1


@pytest.mark.django_db(transaction=True)
def test_status_429_waits_as_retry_after_asks(runpod, auth_client, funded_user):
    runpod["status_answers"] = [(429, {"Retry-After": "1"})]
    job_id = _create(auth_client)
    began = time.monotonic()
    assert tasks.job_run(job_id) == "completed"
    assert time.monotonic() - began >= 1


@pytest.mark.django_db(transaction=True)
def test_a_refused_api_key_is_classified(runpod, auth_client, funded_user):
    before = spendable(funded_user)
    runpod["run_answers"] = [401]
    job_id = _create(auth_client)
    assert tasks.job_run(job_id) == "failed"
    job = Job.objects.get(pk=job_id)
    assert job.error_type == "provider_auth" and len(runpod["inputs"]) == 1
    assert spendable(funded_user) == before


@pytest.mark.django_db(transaction=True)
def test_every_kind_of_output_is_copied_with_its_type(runpod, auth_client, funded_user):
    runpod["outputs"] = [
        {"type": "png", "url": "preview.png", "primary": True},  # a mesh kind: the mesh is primary anyway
        {"type": "glb", "url": "model.glb"},
        {"type": "mp4", "url": "turntable.mp4"},
        {"type": "json", "url": "report.json"},
        {"type": "exe", "url": "report.json"},  # unknown: left out
    ]
    job_id = _create(auth_client)
    assert tasks.job_run(job_id) == "completed"
    job = Job.objects.get(pk=job_id)
    stored = {a.asset_type: a for a in Asset.objects.filter(job=job)}
    assert set(stored) == {"png", "glb", "mp4", "json"}
    assert {t: a.content_type for t, a in stored.items()} == {
        "png": "image/png", "glb": "model/gltf-binary", "mp4": "video/mp4", "json": "application/json",
    }
    assert [t for t, a in stored.items() if a.is_primary] == ["glb"]
    assert stored["png"].file.open("rb").read() == png_bytes((16, 12))
    assert job.result["output_format"] == "glb" and len(job.result["outputs"]) == 4
    assert JobEvent.objects.filter(job=job, type="output").count() == 4


@pytest.mark.django_db(transaction=True)
def test_a_mesh_kind_without_a_mesh_fails(runpod, auth_client, funded_user):
    before = spendable(funded_user)
    runpod["outputs"] = [{"type": "png", "url": "preview.png"}]
    job_id = _create(auth_client)
    assert tasks.job_run(job_id) == "failed"
    job = Job.objects.get(pk=job_id)
    assert job.error_type == "provider_output" and "without a mesh" in job.error
    assert not Asset.objects.filter(job=job).exists() and spendable(funded_user) == before


@pytest.mark.django_db(transaction=True)
def test_an_oversize_output_is_refused(runpod, auth_client, funded_user, settings):
    settings.RUNPOD_MAX_OUTPUT_BYTES = 100
    job_id = _create(auth_client)
    assert tasks.job_run(job_id) == "failed"
    job = Job.objects.get(pk=job_id)
    assert job.error_type == "provider_output" and "larger than" in job.error
    assert not Asset.objects.filter(job=job).exists()


def test_output_types_map_to_asset_and_content_types():
    listed = runpod_outputs({"outputs": [
        {"type": "JPEG", "url": "https://x/a"}, {"url": "https://x/b/scene.ply"}, {"type": "wav", "url": "https://x/c"},
        {"type": "stl", "url": "https://x/d"}, {"type": "scad", "url": "https://x/e"}, {"type": "png"}, "junk",
    ]})
    assert [(f["asset_type"], f["content_type"]) for f in listed] == [
        ("jpg", "image/jpeg"), ("ply", "application/octet-stream"), ("wav", "audio/wav"), ("stl", "model/stl"),
        ("scad", "text/plain"),
    ]
