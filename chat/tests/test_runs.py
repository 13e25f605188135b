"""The assistant's actions through `POST /chats/{id}/runpod` with the local backend; the task
(`chat.tasks.chat_run_execute`), the render job (`pipeline.tasks.job_run`) and the task the render's
end sends the chat (`chat.tasks.chat_run_render_finished`, through pipeline's job-finished
listener) are run as the worker runs them."""

import threading
import time

import pytest

from chat import tasks
from chat.models import ChatEvent, ChatRun, Message
from pipeline import tasks as pipeline_tasks
from pipeline.models import Job
from pipeline.tests.conftest import TEST_CLIENT_IP, balance, free_credits, grant, spendable

from .conftest import SEED_REQUIREMENTS, events, in_thread

pytestmark = pytest.mark.django_db(transaction=True)


def _run(auth_client, chat, body, expect=202):
    response = auth_client.post(f"/api/v1/chats/{chat.id}/runpod", body, format="json")
    assert response.status_code == expect, response.content
    return response.json()


def test_process_requirements_answers_with_the_requirements(auth_client, chat):
    body = _run(auth_client, chat, {"action": "process_requirements", "content": "Design a small quadcopter frame",
                                    "history": [{"role": "user", "content": "I need a lightweight drone"}]})
    assert body["status"] == "queued" and body["runpod_id"] == body["id"] and body["action"] == "process_requirements"
    asked = Message.objects.get(pk=body["prompt_message_id"])
    assert (asked.role, asked.content) == ("user", "Design a small quadcopter frame")
    assert tasks.chat_run_execute(body["id"]) == "done"
    assert tasks.chat_run_execute(body["id"]) == "not claimable"  # a second delivery does nothing
    run = ChatRun.objects.get(pk=body["id"])
    assert run.status == "completed"
    answer = Message.objects.get(pk=run.message_id)
    requirements = answer.parts["requirements"]
    assert answer.role == "assistant" and answer.status == "complete" and len(answer.content) > 20
    assert requirements["model_type"] and "open_questions" in requirements and "dimensions" in requirements
    types = [t for t, _ in events(chat)]
    # the local backend answers at once: one complete message, no deltas
    assert types == ["message.created", "runpod.queued", "message.created", "runpod.completed"]
    queued = events(chat)[1][1]
    assert queued == {"chat_id": str(chat.id), "runpod_id": body["id"], "message_id": str(asked.pk), "status": "queued",
                      "action": "process_requirements"}
    completed = events(chat)[-1][1]
    assert completed["message"] == {"id": str(answer.pk), "role": "assistant", "content": answer.content}
    assert completed["output"]["status"] == "success" and completed["output"]["requirements_json"] == requirements
    shown = auth_client.get(f"/api/v1/messages/{answer.pk}").json()
    assert shown["parts"]["requirements"] == requirements
    assert auth_client.get(f"/api/v1/chats/{chat.id}/runpod/{body['id']}").json()["status"] == "completed"


def test_generate_scad_renders_checks_and_answers_with_the_model(auth_client, chat):
    body = _run(auth_client, chat, {"action": "process_scad", "content": "Generate SCAD", "requirements_json": SEED_REQUIREMENTS})
    assert body["action"] == "generate_scad"  # the alias is normalised
    assert tasks.chat_run_execute(body["id"]) == "done"
    run = ChatRun.objects.get(pk=body["id"])
    assert run.status == "rendering" and run.job is not None  # the worker is free again: nobody waits
    job = run.job
    assert job.kind == "scad_render" and job.session_id == chat.session_id and job.params["hardwarnings"] is True
    listed = auth_client.get(f"/api/v1/jobs?session_id={chat.session_id}").json()
    assert [j["id"] for j in listed] == [str(job.pk)]
    assert pipeline_tasks.job_run(str(job.pk)) == "completed"
    # The job's end sends the chat a task (the mesh check is not done in whichever process ended
    # the job); here it is run as the worker runs it.
    run.refresh_from_db()
    assert run.status == "rendering"
    assert tasks.chat_run_render_finished(str(run.pk)) == "completed"
    assert tasks.chat_run_render_finished(str(run.pk)) == "nothing to do"  # a second delivery does nothing
    run.refresh_from_db()
    assert run.status == "completed", (run.error, run.output)
    report = run.output["report"]
    assert report["ok"] and report["watertight"] and report["bbox_within_2pct"]
    assert run.output["scad"] == job.params["scad"] and run.output["job_id"] == str(job.pk)
    assert {a["asset_type"] for a in run.output["assets"]} >= {"stl", "glb"}
    answer = Message.objects.get(pk=run.message_id)
    assert answer.status == "complete" and answer.job_id == job.pk and answer.parts["scad"] == job.params["scad"]
    assert answer.parts["design"]["expected"].get("motor_spacing_mm") == pytest.approx(160)
    assert answer.parts["design"]["expected"].get("arm_thickness_mm") == pytest.approx(3)
    shown = auth_client.get(f"/api/v1/messages/{answer.pk}").json()
    assert shown["job_id"] == str(job.pk) and {a["asset_type"] for a in shown["assets"]} >= {"stl", "glb"}
    glb = next(a for a in shown["assets"] if a["asset_type"] == "glb")
    assert auth_client.get(glb["url"]).status_code == 200
    types = [t for t, _ in events(chat)]
    assert types[-2:] == ["message.completed", "runpod.completed"] and "runpod.failed" not in types


def test_stop_while_rendering_cancels_the_job_and_keeps_the_message(auth_client, chat):
    body = _run(auth_client, chat, {"action": "generate_scad", "requirements_json": SEED_REQUIREMENTS})
    tasks.chat_run_execute(body["id"])
    run = ChatRun.objects.get(pk=body["id"])
    stopped = auth_client.post(f"/api/v1/chats/{chat.id}/stop", format="json")
    assert stopped.status_code == 200 and [r["status"] for r in stopped.json()] == ["cancelled"]
    run.refresh_from_db()
    assert run.status == "cancelled" and Job.objects.get(pk=run.job_id).status == "cancelled"
    assert Message.objects.get(pk=run.message_id).status == "cancelled"
    failed = [d for t, d in events(chat) if t == "runpod.failed"]
    assert len(failed) == 1 and failed[0]["status"] == "cancelled"
    # stopping again changes nothing
    assert auth_client.post(f"/api/v1/chats/{chat.id}/runpod/{run.pk}/cancel").json()["status"] == "cancelled"
    assert len([t for t, _ in events(chat) if t == "runpod.failed"]) == 1


def test_health_sync_answers_in_the_response(auth_client, chat):
    def worker():  # what the django-q2 cluster does with the queued task
        for _ in range(200):
            run = ChatRun.objects.filter(chat=chat, status="queued").first()
            if run:
                tasks.chat_run_execute(str(run.pk))
                return
            time.sleep(0.02)

    thread = threading.Thread(target=in_thread(worker))
    thread.start()
    body = _run(auth_client, chat, {"action": "health", "sync": True}, expect=200)
    thread.join(5)
    assert body["status"] == "completed" and body["output"]["health"]["status"] == "ready"
    assert body["output"]["health"]["backend"] == "local"
    assert not Message.objects.filter(chat=chat).exists()  # health stores no messages


def test_status_timeout_seconds_ends_a_run_that_waits_too_long(auth_client, chat):
    body = _run(auth_client, chat, {"action": "generate_scad", "requirements_json": SEED_REQUIREMENTS,
                                    "metadata_json": {"status_timeout_seconds": 1}})
    assert body["timeout_seconds"] == 1
    tasks.chat_run_execute(body["id"])  # now rendering; the render never runs
    time.sleep(1.1)
    assert tasks.chat_runs_reap()["timed_out"] == [body["id"]]
    run = ChatRun.objects.get(pk=body["id"])
    assert run.status == "failed" and run.error_type == "timeout" and Job.objects.get(pk=run.job_id).status == "cancelled"
    default = _run(auth_client, chat, {"action": "health"})
    assert default["timeout_seconds"] == 7200


def test_deleting_a_session_stops_its_runs_and_their_render_jobs(auth_client, chat):
    body = _run(auth_client, chat, {"action": "generate_scad", "requirements_json": SEED_REQUIREMENTS})
    tasks.chat_run_execute(body["id"])
    job_id = ChatRun.objects.get(pk=body["id"]).job_id
    assert Job.objects.get(pk=job_id).status not in ("cancelled", "completed", "failed")
    assert auth_client.delete(f"/api/v1/sessions/{chat.session_id}").status_code == 204
    assert Job.objects.get(pk=job_id).status == "cancelled"  # the job outlives the session (SET_NULL)


def _render(auth_client, chat) -> Job:
    body = _run(auth_client, chat, {"action": "generate_scad", "requirements_json": SEED_REQUIREMENTS})
    assert tasks.chat_run_execute(body["id"]) == "done"
    run = ChatRun.objects.get(pk=body["id"])
    assert run.status == "rendering", (run.error, run.output)
    assert run.client_ip == TEST_CLIENT_IP  # kept while the run may still create a render job
    assert pipeline_tasks.job_run(str(run.job_id)) == "completed"
    assert tasks.chat_run_render_finished(str(run.pk)) == "completed"
    run.refresh_from_db()
    assert run.client_ip is None  # the run has ended: the address is not kept
    return Job.objects.get(pk=run.job_id)


def test_a_chat_render_spends_the_askers_free_credits_first(auth_client, chat, user, settings):
    """What /credits shows a user can spend is what a chat render can spend: the address's free
    credits first (the run records the address it was asked from), then the user's own."""
    settings.CREDIT_PRICES = {**settings.CREDIT_PRICES, "scad_render": 2}
    free = settings.DEFAULT_FREE_CREDITS
    shown = auth_client.get("/api/v1/credits").json()
    assert (shown["credits"], balance(user)) == (free, 0)  # free credits only
    job = _render(auth_client, chat)
    assert (job.credit_cost, job.credits_state) == (2, "settled")
    assert (free_credits(), balance(user), spendable(user)) == (free - 2, 0, free - 2)
    assert auth_client.get("/api/v1/credits").json()["credits"] == free - 2

    # Then a render costing more than the free credits left: those first, the rest from the user's own.
    left = free - 2
    grant(user, 5)
    settings.CREDIT_PRICES = {**settings.CREDIT_PRICES, "scad_render": left + 2}
    job = _render(auth_client, chat)
    assert (job.credit_cost, job.credits_state) == (left + 2, "settled")
    assert (free_credits(), balance(user)) == (0, 5 - 2)
    assert auth_client.get("/api/v1/credits").json()["credits"] == balance(user)
