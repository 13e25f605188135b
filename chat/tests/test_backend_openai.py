"""The OpenAI-compatible backend against a local server that streams as the API documents:
SSE chunks with `:` comment lines, a final usage chunk and `[DONE]`; an error after the stream
started, a dropped stream, 429 and malformed JSON."""

import json
import threading

import pytest

from chat import tasks
from chat.assistant.scad import scad_design
from chat.models import ChatRun, Message
from mozukai_hub.testing.polling import wait_until
from pipeline import tasks as pipeline_tasks

from .conftest import SEED_REQUIREMENTS, events, in_thread
from .fakes import openai_server

pytestmark = pytest.mark.django_db(transaction=True)

REQUIREMENTS = {**SEED_REQUIREMENTS,
                "dimensions": [{"name": "motor_spacing", "value": 160, "unit": "mm", "value_mm": 160},
                               {"name": "arm_thickness", "value": 3, "unit": "mm", "value_mm": 3}],
                "open_questions": ["Which material will you print it in?"], "assumptions": ["PLA"]}
REPLY = "A small quad frame, 160 mm motor to motor with 3 mm arms. Which material will you print it in?"


@pytest.fixture
def model(settings):
    server = openai_server()
    settings.CHAT_BACKEND = "openai"
    settings.CHAT_OPENAI_BASE_URL = f"{server.url}/v1"
    settings.CHAT_OPENAI_API_KEY = "sk-test"
    settings.CHAT_OPENAI_MODEL = "tiny"
    settings.CHAT_OPENAI_TIMEOUT_SECONDS = 5
    yield server.state
    server.close()


def _ask(auth_client, chat, **body):
    response = auth_client.post(f"/api/v1/chats/{chat.id}/runpod", {"action": "process_requirements",
                                                                     "content": "Design a small quadcopter frame", **body},
                                format="json")
    assert response.status_code == 202, response.content
    return response.json()["id"]


def test_requirements_as_structured_output_then_a_streamed_reply(model, auth_client, chat):
    model["answers"] = [{"text": json.dumps(REQUIREMENTS)}, {"text": REPLY}]
    run_id = _ask(auth_client, chat)
    assert tasks.chat_run_execute(run_id) == "done"
    run = ChatRun.objects.get(pk=run_id)
    assert run.status == "completed", run.error
    first, second = model["requests"]
    assert first["body"]["stream"] is True and first["body"]["response_format"]["type"] == "json_schema"
    assert first["body"]["model"] == "tiny" and first["authorization"] == "Bearer sk-test"
    assert first["body"]["messages"][-1] == {"role": "user", "content": "Design a small quadcopter frame"}
    answer = Message.objects.get(pk=run.message_id)
    assert answer.content == REPLY and answer.tokens == 60  # the two calls' usage
    assert answer.parts["requirements"]["model_type"] == "drone"
    deltas = [d["delta"] for t, d in events(chat) if t == "message.delta"]
    assert "".join(deltas) == REPLY and len(deltas) == len(range(0, len(REPLY), 7))


def test_an_error_after_the_stream_started_keeps_the_partial_text(model, auth_client, chat):
    model["answers"] = [{"text": json.dumps(REQUIREMENTS)}, {"text": REPLY, "error_at": 2}]
    run_id = _ask(auth_client, chat)
    assert tasks.chat_run_execute(run_id) == "failed"
    run = ChatRun.objects.get(pk=run_id)
    assert run.error_type == "provider_failed" and "error while processing" in run.error
    answer = Message.objects.get(pk=run.message_id)
    assert answer.status == "failed" and answer.content == REPLY[:14]
    assert [t for t, _ in events(chat)][-2:] == ["message.completed", "runpod.failed"]


def test_a_dropped_stream_fails_the_run(model, auth_client, chat):
    model["answers"] = [{"text": json.dumps(REQUIREMENTS)}, {"text": REPLY, "drop_at": 1}]
    run_id = _ask(auth_client, chat)
    assert tasks.chat_run_execute(run_id) == "failed"
    run = ChatRun.objects.get(pk=run_id)
    assert run.error_type == "provider_unavailable"
    assert Message.objects.get(pk=run.message_id).content == REPLY[:7]


def test_429_is_retried_as_retry_after_asks(model, auth_client, chat):
    model["answers"] = [{"status": 429, "headers": {"Retry-After": "0"}}, {"text": json.dumps(REQUIREMENTS)}, {"text": REPLY}]
    run_id = _ask(auth_client, chat)
    assert tasks.chat_run_execute(run_id) == "done"
    assert len(model["requests"]) == 3 and ChatRun.objects.get(pk=run_id).status == "completed"


@pytest.mark.parametrize("answer, error_type", [
    ({"text": json.dumps(REQUIREMENTS), "malformed_at": 1}, "provider_output"),
    ({"text": "Sure! A drone frame."}, "provider_output"),
    ({"text": json.dumps({**REQUIREMENTS, "dimensions": [{"name": "motor_spacing", "value": 10, "unit": "m",
                                                          "value_mm": 10000}]})}, "bad_requirements"),
])
def test_malformed_or_unusable_requirements_fail_the_run(model, auth_client, chat, answer, error_type):
    model["answers"] = [answer]
    run_id = _ask(auth_client, chat)
    assert tasks.chat_run_execute(run_id) == "failed"
    run = ChatRun.objects.get(pk=run_id)
    assert run.error_type == error_type, run.error
    assert not Message.objects.filter(chat=chat, role="assistant", status="complete").exists()


BRACKET = {"model_type": "bracket", "primary_function": "Hold a shelf to a wall", "description_natural_language": "An L bracket",
           "standard_components": [], "custom_description": "40 mm wide"}


def test_scad_is_accepted_only_after_render_and_check_with_one_repair_round(model, auth_client, chat):
    good = scad_design(BRACKET).source
    model["answers"] = [{"text": "A frame.\n```openscad\nquad_frame(arms = 4);\n```\n"},
                        {"text": f"Fixed.\n```openscad\n{good}```\n"}]
    response = auth_client.post(f"/api/v1/chats/{chat.id}/runpod", {"action": "generate_scad", "requirements_json": BRACKET},
                                format="json")
    run_id = response.json()["id"]
    assert tasks.chat_run_execute(run_id) == "done"
    run = ChatRun.objects.get(pk=run_id)
    first_job = run.job
    assert first_job.params["hardwarnings"] is True
    # The unknown module is an error under --hardwarnings (not an empty, "successful" model);
    # the job's end hands the error back to the model for one repair round.
    assert pipeline_tasks.job_run(str(first_job.pk)) == "failed"
    assert tasks.chat_run_render_finished(str(run_id)) == "repairing"  # sent by the job's end
    run.refresh_from_db()
    assert run.repair_rounds == 1 and run.job_id != first_job.pk and run.status == "rendering"
    repair_request = model["requests"][1]["body"]["messages"][-1]["content"]
    assert "quad_frame" in repair_request and "failed" in repair_request
    assert pipeline_tasks.job_run(str(run.job_id)) == "completed"
    assert tasks.chat_run_render_finished(str(run_id)) == "completed"
    run.refresh_from_db()
    assert run.status == "completed", run.error
    assert run.output["report"]["ok"] and run.output["scad"].strip() == good.strip()
    assert Message.objects.get(pk=run.message_id).tokens == 60


def test_stop_generating_keeps_the_partial_text(model, auth_client, chat):
    long_reply = "word " * 40
    model["answers"] = [{"text": json.dumps(REQUIREMENTS)}, {"text": long_reply, "delay": 0.05}]
    run_id = _ask(auth_client, chat)
    results = []
    worker = threading.Thread(target=in_thread(lambda: results.append(tasks.chat_run_execute(run_id))))
    worker.start()
    wait_until(lambda: Message.objects.filter(chat=chat, role="assistant").exclude(content="").exists(), 10)
    assert auth_client.post(f"/api/v1/chats/{chat.id}/stop").status_code == 200
    worker.join(10)
    assert results == ["cancelled"]
    answer = Message.objects.get(chat=chat, role="assistant")
    assert answer.status == "cancelled" and 0 < len(answer.content) < len(long_reply)
    assert ChatRun.objects.get(pk=run_id).status == "cancelled"


def test_health_lists_the_model(model, auth_client, chat):
    run_id = auth_client.post(f"/api/v1/chats/{chat.id}/runpod", {"action": "health"}, format="json").json()["id"]
    tasks.chat_run_execute(run_id)
    health = ChatRun.objects.get(pk=run_id).output["health"]
    assert health == {"status": "ready", "backend": "openai", "model": "tiny", "model_listed": True}


def test_scad_that_reads_files_is_refused_and_repaired_once(model, auth_client, chat):
    good = scad_design(BRACKET).source
    model["answers"] = [{"text": '```openscad\nimport("/etc/passwd");\n```'}, {"text": f"```openscad\n{good}```"}]
    run_id = auth_client.post(f"/api/v1/chats/{chat.id}/runpod", {"action": "generate_scad", "requirements_json": BRACKET},
                              format="json").json()["id"]
    assert tasks.chat_run_execute(run_id) == "done"
    run = ChatRun.objects.get(pk=run_id)
    assert run.status == "rendering" and run.repair_rounds == 1 and run.job.params["scad"].strip() == good.strip()
    assert "not allowed" in model["requests"][1]["body"]["messages"][-1]["content"]

    model["answers"] = [{"text": '```openscad\nimport("/etc/passwd");\n```'}] * 2
    second = auth_client.post(f"/api/v1/chats/{chat.id}/runpod", {"action": "generate_scad", "requirements_json": BRACKET},
                              format="json").json()["id"]
    assert tasks.chat_run_execute(second) == "failed"
    failed = ChatRun.objects.get(pk=second)
    assert failed.error_type == "scad_refused" and failed.job_id is None
