"""Seed 001's RunPod protocol against a local server that answers as RunPod's serverless API documents."""

import threading

import pytest

from chat import services, tasks
from chat.assistant.scad import scad_design
from chat.models import ChatRun, Message
from mozukai_hub.testing.polling import wait_until

from .conftest import SEED_REQUIREMENTS, events, in_thread
from .fakes import runpod_server

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def runpod(settings):
    server = runpod_server("ep-chat")
    settings.CHAT_BACKEND = "runpod"
    settings.RUNPOD_API_KEY = "rp-key"
    settings.RUNPOD_ENDPOINT_ID = "ep-chat"
    settings.RUNPOD_BASE_URL = f"{server.url}/v2"
    settings.RUNPOD_POLL_SECONDS = 0.02
    yield server.state
    server.close()


def test_process_requirements_sends_the_stored_history_and_stores_the_id(runpod, auth_client, chat):
    services.message_create(chat=chat, role="user", content="I need a lightweight drone")
    services.message_create(chat=chat, role="assistant", content="Happy to help.")
    runpod["outputs"] = [{"requirements_json": SEED_REQUIREMENTS, "message": "Got it: a small quad frame."}]
    run_id = auth_client.post(f"/api/v1/chats/{chat.id}/runpod", {"action": "process_requirements",
                                                                  "content": "Design a small quadcopter frame"},
                              format="json").json()["id"]
    assert tasks.chat_run_execute(run_id) == "done"
    assert runpod["inputs"] == [{"action": "process_requirements", "prompt": "Design a small quadcopter frame",
                                 "history": [{"role": "user", "content": "I need a lightweight drone"},
                                             {"role": "assistant", "content": "Happy to help."}]}]
    assert {auth for _, _, auth in runpod["calls"]} == {"rp-key"}  # seed 001: `authorization: <key>`
    run = ChatRun.objects.get(pk=run_id)
    assert run.status == "completed" and run.remote_id == "rp-1"
    assert Message.objects.get(pk=run.message_id).content == "Got it: a small quad frame."
    stages = [d["stage"] for t, d in events(chat) if t == "runpod.progress"]
    assert stages[:2] == ["started", "submitted"] and "in_progress" in stages


def test_health_sends_no_history(runpod, auth_client, chat):
    run_id = auth_client.post(f"/api/v1/chats/{chat.id}/runpod", {"action": "health"}, format="json").json()["id"]
    tasks.chat_run_execute(run_id)
    output = ChatRun.objects.get(pk=run_id).output
    assert output["health"]["runpod"]["workers"]["idle"] == 1 and runpod["inputs"] == []
    assert [(m, p) for m, p, _ in runpod["calls"]] == [("GET", "/v2/ep-chat/health")]


def test_generate_scad_from_runpod_goes_to_the_render_and_check(runpod, auth_client, chat):
    """The worker's SCAD is rendered and checked like the local backend's (that path: test_runs)."""
    runpod["outputs"] = [{"scad": scad_design(SEED_REQUIREMENTS).source}]
    run_id = auth_client.post(f"/api/v1/chats/{chat.id}/runpod", {"action": "generate_scad", "content": "Generate SCAD",
                                                                  "requirements_json": SEED_REQUIREMENTS},
                              format="json").json()["id"]
    tasks.chat_run_execute(run_id)
    run = ChatRun.objects.get(pk=run_id)
    assert runpod["inputs"][0]["action"] == "generate_scad" and runpod["inputs"][0]["prompt"] == "Generate SCAD"
    assert run.status == "rendering" and run.job.params["scad"] == runpod["jobs"]["rp-1"]["output"]["scad"]
    assert run.job.params["hardwarnings"] is True and run.job.session_id == chat.session_id


def test_a_failed_runpod_run_fails_the_action(runpod, auth_client, chat):
    runpod["script"] = ["IN_PROGRESS", "FAILED"]
    run_id = auth_client.post(f"/api/v1/chats/{chat.id}/runpod", {"action": "process_requirements", "content": "A frame"},
                              format="json").json()["id"]
    assert tasks.chat_run_execute(run_id) == "failed"
    run = ChatRun.objects.get(pk=run_id)
    assert run.error_type == "provider_failed" and "CUDA" in run.error


def test_stop_cancels_the_runpod_run(runpod, auth_client, chat):
    runpod["script"] = ["IN_PROGRESS"]  # never finishes by itself
    run_id = auth_client.post(f"/api/v1/chats/{chat.id}/runpod", {"action": "process_requirements", "content": "A frame"},
                              format="json").json()["id"]
    results = []
    worker = threading.Thread(target=in_thread(lambda: results.append(tasks.chat_run_execute(run_id))))
    worker.start()
    wait_until(lambda: ChatRun.objects.filter(pk=run_id).exclude(remote_id="").exists(), 10)
    assert auth_client.post(f"/api/v1/chats/{chat.id}/runpod/{run_id}/cancel").json()["status"] == "cancelled"
    worker.join(10)
    assert results == ["cancelled"] and runpod["cancelled"] == ["rp-1"]
