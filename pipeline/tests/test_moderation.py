import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from pipeline import moderation
from pipeline.models import Job

from .conftest import balance


class FakeOpenAI(BaseHTTPRequestHandler):
    """Answers POST /v1/moderations as OpenAI documents it."""

    calls: list = []
    fail_first: int = 0

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        FakeOpenAI.calls.append({"path": self.path, "auth": self.headers.get("Authorization"), "body": body})
        if FakeOpenAI.fail_first > 0:
            FakeOpenAI.fail_first -= 1
            self.send_response(503)
            self.end_headers()
            return
        flagged = "forbidden" in body["input"]
        answer = {
            "id": "modr-123", "model": body["model"],
            "results": [{"flagged": flagged, "categories": {"violence": flagged, "hate": False},
                         "category_scores": {"violence": 0.9 if flagged else 0.01, "hate": 0.0}}],
        }
        data = json.dumps(answer).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


@pytest.fixture
def openai_server(settings):
    FakeOpenAI.calls, FakeOpenAI.fail_first = [], 0
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeOpenAI)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    settings.MODERATION_BACKEND = "openai"
    settings.OPENAI_API_KEY = "sk-test"
    settings.OPENAI_BASE_URL = f"http://127.0.0.1:{server.server_port}/v1"
    yield FakeOpenAI
    server.shutdown()


def test_local_rules():
    assert moderation.moderate_text_local("a bonsai pot 120 mm wide").flagged is False
    verdict = moderation.moderate_text_local("a printable pistol frame")
    assert verdict.flagged and verdict.categories == ["weapons"]
    assert moderation.moderate_text_local("a gunmetal grey planter").flagged is False  # whole words only


@pytest.mark.django_db
def test_rejected_prompt_fails_job_uncharged(auth_client, funded_user):
    response = auth_client.post("/api/v1/jobs", {"prompt": "a suppressor for my rifle"}, format="json")
    assert response.status_code == 201
    body = response.json()
    assert body["status"] == "failed" and body["error_type"] == "moderation"
    assert balance(funded_user) == 10 and Job.objects.get().credits_state == "released"


@pytest.mark.django_db
def test_openai_adapter(openai_server, auth_client, funded_user):
    ok = auth_client.post("/api/v1/jobs", {"prompt": "a bonsai pot"}, format="json").json()
    assert ok["status"] == "queued"
    bad = auth_client.post("/api/v1/jobs", {"prompt": "a forbidden thing"}, format="json").json()
    assert bad["status"] == "failed" and bad["error_type"] == "moderation" and "violence" in bad["error"]
    call = openai_server.calls[0]
    assert call["path"] == "/v1/moderations" and call["auth"] == "Bearer sk-test"
    assert call["body"] == {"model": "omni-moderation-latest", "input": "a bonsai pot"}
    assert balance(funded_user) == 9


@pytest.mark.django_db
def test_openai_retries_5xx_then_fails_closed(openai_server, auth_client, funded_user):
    openai_server.fail_first = 1
    assert moderation.moderate_text("a bonsai pot").flagged is False
    assert len(openai_server.calls) == 2
    openai_server.fail_first = 10
    job = auth_client.post("/api/v1/jobs", {"prompt": "a bonsai pot"}, format="json").json()
    assert job["status"] == "failed" and job["error_type"] == "moderation_unavailable"
    assert balance(funded_user) == 10
