"""Faults on the production topology (see test_production_stack.py), used only through nginx.

A worker killed mid-job (SIGKILL of its whole process group): the lease reaper sends the job
again, another worker finishes it, the credits are charged once. Redis restarted while a job
runs (cache, throttles, channel layer and task broker all lose their server and every key): the
job finishes, the websocket client resumes with `?after=N` and misses no event, and the queue
takes new jobs again. S3 stopped while a job stores its output: the job fails with a clear,
retriable error (`storage_unavailable`), its credits come back, no asset row is left.
PostgreSQL restarted (a cluster of the stack's own) under a stream of credit spends: every
answer is a success or a clean JSON error, the pools recover, and the ledger holds exactly the
spends that were answered 200.

The jobs are `slow_test` SCAD renders (pipeline/tests/engines.py): a progress event every
0.25 s, then a real OpenSCAD render, priced 2 credits here.
"""

import json
import threading
import time
import uuid

import httpx
import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect as ws_connect

from mozukai_hub.testing.polling import wait_until
from mozukai_hub.testing.production import production_stack

from .test_production_stack import TERMINAL, buy_pack, client, sign_up

pytestmark = pytest.mark.slow

LEASE_SECONDS = 2
PRICE = 2


@pytest.fixture(scope="module")
def stack():
    with production_stack(own_postgres=True, extra_env={
        "PIPELINE_ENGINE_MODULES": "pipeline.tests.engines",
        "PIPELINE_LEASE_SECONDS": str(LEASE_SECONDS),
        "CREDIT_PRICE_SCAD_RENDER": str(PRICE),
    }) as running:
        yield running


def slow_job(http: httpx.Client, steps: int) -> str:
    created = http.post("/api/v1/jobs", json={"kind": "scad_render", "engine": "slow_test",
                                              "params": {"scad": "cube(5);", "prompt": str(steps)}})
    assert created.status_code == 201, created.text
    assert created.json()["cost_credits"] == PRICE
    return created.json()["id"]


def job(http: httpx.Client, job_id: str) -> dict:
    return http.get(f"/api/v1/jobs/{job_id}").json()


def reap(stack) -> None:
    """What the every-minute schedule runs, sooner."""
    result = stack.manage("shell", "-c", "from pipeline.services import job_reap_expired; print(job_reap_expired())")
    assert result.returncode == 0, result.stderr


def test_worker_killed_mid_job_is_retried_by_another_and_charged_once(stack):
    with client(stack, "127.0.1.10") as http:
        sign_up(http, "killed")
        buy_pack(stack, http, 5)
        before = http.get("/api/v1/credits").json()
        # One worker takes the job; the other is started again only after the first has died.
        stack.kill("worker2")
        job_id = slow_job(http, steps=12)
        wait_until(lambda: job(http, job_id)["progress"] >= 2, 30, interval=0.1, message=lambda: stack.logs())
        stack.kill("worker1")
        assert job(http, job_id)["status"] == "processing"
        stack.start_worker("worker2")

        def finished():
            if job(http, job_id)["status"] not in TERMINAL:
                reap(stack)
            return job(http, job_id)["status"] in TERMINAL

        wait_until(finished, 60, interval=0.5, message=lambda: f"{job(http, job_id)}\n{stack.logs()}")
        done = job(http, job_id)
        assert done["status"] == "completed" and done["attempts"] == 2, done
        after = http.get("/api/v1/credits").json()
        assert after["credits"] == before["credits"] - PRICE  # charged once, for two runs
        [(state,)] = stack.sql("SELECT credits_state FROM pipeline_job WHERE id = %s", (job_id,))
        assert state == "settled"
        stack.start_worker("worker1")


def test_redis_restart_during_a_job_websocket_resumes_and_misses_nothing(stack):
    with client(stack, "127.0.1.20") as http:
        token = sign_up(http, "restart")
        buy_pack(stack, http, 5)
        job_id = slow_job(http, steps=16)
        url = f"{stack.ws_url}/api/v1/jobs-socket/{job_id}?token={token}&after="
        seen: list[dict] = []

        def read(ws, *, until) -> bool:
            """Collect messages until `until(seen)` holds (True) or the socket closes (False)."""
            try:
                while not until(seen):
                    seen.append(json.loads(ws.recv(timeout=30)))
                return True
            except ConnectionClosed:
                return False

        def progressed(messages):
            return any(m["type"] == "progress" and m["data"].get("progress", 0) >= 2 for m in messages)

        def ended(messages):
            return any(m["type"] == "status" and m["data"]["status"] in TERMINAL for m in messages)

        with ws_connect(url + "0", open_timeout=10) as ws:
            assert read(ws, until=progressed)
            stack.restart_redis(down_seconds=1.0)
        # The client has lost its connection (as when the server closes it, or a network blip
        # coincides): it reconnects from the last sequence number it saw until the job ends.
        deadline = time.monotonic() + 60
        while not ended(seen):
            assert time.monotonic() < deadline, f"{seen}\n{stack.logs()}"
            try:
                with ws_connect(url + str(seen[-1]["seq"]), open_timeout=10) as ws:
                    read(ws, until=ended)
            except (OSError, ConnectionClosed):
                time.sleep(0.5)  # daphne or Redis not answering yet: try again
        seqs = [m["seq"] for m in seen]
        assert seqs == list(range(1, len(seqs) + 1)), seqs  # every event once, in order
        assert seen[-1]["data"]["status"] == "completed", (seen[-1], stack.logs())
        assert job(http, job_id)["last_event_seq"] == seqs[-1]

        # The queue works again: a new job on the restarted broker completes.
        second = slow_job(http, steps=1)
        wait_until(lambda: job(http, second)["status"] in TERMINAL, 60, interval=0.2, message=lambda: stack.logs())
        assert job(http, second)["status"] == "completed"


def test_s3_unavailable_while_a_job_stores_its_output(stack):
    with client(stack, "127.0.1.30") as http:
        sign_up(http, "nos3")
        buy_pack(stack, http, 5)
        before = http.get("/api/v1/credits").json()
        job_id = slow_job(http, steps=8)
        wait_until(lambda: job(http, job_id)["progress"] >= 2, 30, interval=0.1, message=lambda: stack.logs())
        stack.stop("s3")  # the render finishes with nowhere to put its files
        try:
            wait_until(lambda: job(http, job_id)["status"] in TERMINAL, 60, interval=0.2, message=lambda: stack.logs())
        finally:
            stack.start_s3()
        failed = job(http, job_id)
        assert (failed["status"], failed["error_type"]) == ("failed", "storage_unavailable"), failed
        assert "file store could not be reached" in failed["error"] and "try again" in failed["error"]
        # No credit lost, nothing held; no asset row points at a file that was never stored.
        after = http.get("/api/v1/credits").json()
        assert (after["credits"], after["held"]) == (before["credits"], 0)
        assert failed["assets"] == [] and failed["outputs"] == []
        assert stack.sql("SELECT count(*) FROM pipeline_asset WHERE job_id = %s", (job_id,)) == [(0,)]
        # With S3 back, the same request succeeds.
        again = slow_job(http, steps=1)
        wait_until(lambda: job(http, again)["status"] in TERMINAL, 60, interval=0.2, message=lambda: stack.logs())
        assert job(http, again)["status"] == "completed"
        assert http.get("/api/v1/credits").json()["credits"] == before["credits"] - PRICE


def test_postgres_restart_requests_fail_cleanly_pool_recovers_nothing_half_written(stack):
    with client(stack, "127.0.1.40") as http:
        sign_up(http, "pgrestart")
        buy_pack(stack, http, 20)
        before = http.get("/api/v1/credits").json()
        answers: list[tuple[int, str]] = []
        stop = threading.Event()

        def spend():
            with client(stack, "127.0.1.40", Authorization=http.headers["Authorization"]) as spender:
                while not stop.is_set():
                    try:
                        r = spender.post("/api/v1/credits/consume", json={"amount": 1, "reason": "restart"},
                                         headers={"Idempotency-Key": str(uuid.uuid4())})
                        answers.append((r.status_code, r.text))
                    except httpx.HTTPError as exc:
                        answers.append((0, repr(exc)))
                    time.sleep(0.05)

        spender = threading.Thread(target=spend)
        spender.start()
        try:
            wait_until(lambda: len(answers) >= 3, 20)
            stack.postgres.restart(down_seconds=1.0)
            restarted_at = len(answers)
            # The pools recover: five spends in a row succeed soon after the server is back.
            wait_until(lambda: len(answers) >= restarted_at + 5 and all(
                status == 200 for status, _ in answers[-5:]), 30, interval=0.2, message=lambda: f"{answers[-5:]}")
        finally:
            stop.set()
            spender.join(timeout=60)
        # Every answer is a success or the API's JSON error shape (no proxy error page, no hang).
        for status, body in answers:
            assert status == 200 or (status >= 500 and "error" in json.loads(body)), (status, body[:300])
        # Once a spend has succeeded after the restart, none fails: the pools lend no dead connection.
        statuses = [status for status, _ in answers]
        recovered = statuses.index(200, restarted_at)
        assert set(statuses[recovered:]) == {200}, statuses
        # Nothing half-written: the balance moved by exactly the spends answered 200, and the ledger checks out.
        spent = sum(1 for status, _ in answers if status == 200)
        after = http.get("/api/v1/credits").json()
        assert before["credits"] - after["credits"] == spent, (before, after, spent)
        check = stack.manage("billing_check_ledger")
        assert check.returncode == 0, check.stdout + check.stderr
