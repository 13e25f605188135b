"""Benchmark: the job pipeline's latencies, through real processes.

    .venv/bin/python bench/jobs.py [--samples 30]

Needs PostgreSQL and Redis: when DATABASE_URL / REDIS_URL are unset it re-runs itself under
`mozukai_hub.testing.services` (a throwaway cluster and redis-server). The websocket client
is the `websockets` package (installed by bench/requirements.txt's uvicorn[standard]).

Prints:
  enqueue→start   p50/p95 from a job's `queued_at` (set just before the commit that enqueues
                  it) to its `started_at` (the worker's claim), idle worker, for the ORM broker
                  and for the Redis broker. Targets: p50 ≤ 150 ms (ORM), ≤ 20 ms (Redis).
  worker→socket   p50/p95 from a JobEvent's creation in the worker to its arrival at a websocket
                  client of daphne, with the Redis channel layer and with DB polling.
                  Targets: p50 ≤ 50 ms (Redis), ≤ 1 s (polling).
  pot end-to-end  "a bonsai pot 120 mm wide, 40 mm tall, with a drainage hole": POST → completed
                  GLB (median of 3, Redis broker). Target ≤ 5 s.
Exits 1 when a target is missed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench._processes import free_port, percentile, spawn, stop, wait_port  # noqa: E402
TEST_ENGINES = "pipeline.tests.engines"  # `slow_test`: a job that emits a progress event every 0.25 s
# One bench user submits jobs back to back: the per-owner admission caps and the one-at-a-time
# dispatch (fairness between owners) would measure themselves, not the pipeline's latency.
for _name, _value in {"PIPELINE_MAX_JOBS_PER_MINUTE": "0", "PIPELINE_MAX_JOBS_IN_FLIGHT": "0",
                      "PIPELINE_MAX_DISPATCHED_PER_OWNER": "1000"}.items():
    os.environ.setdefault(_name, _value)


def _env(*, redis: bool) -> dict:
    """Redis mode: PostgreSQL + Redis (scale-out). Otherwise the embedded default: SQLite (WAL),
    ORM broker, DB-poll websockets, with daphne and the worker as separate processes."""
    env = {**os.environ, "PIPELINE_ENGINE_MODULES": TEST_ENGINES, "Q_WORKERS": "1", "LOG_LEVEL": "WARNING"}
    if not redis:
        env.pop("REDIS_URL", None)
        env.pop("DATABASE_URL", None)
        env["SQLITE_PATH"] = f"/tmp/mozukai-bench-{os.getpid()}.sqlite3"
    return env


# --- Child parts (run with the broker / channel layer of their mode in the environment) ----


def _django():
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mozukai_hub.settings")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", "--noinput", verbosity=0)  # the SQLite file of the embedded mode is new


def _bench_user():
    from accounts.models import User
    from billing.services import credits_grant

    user = User.objects.filter(email="bench@example.com").first() or User.objects.create_user(
        "bench@example.com", "bench-password-42", username="bench")
    credits_grant(user=user, amount=1000, reason="bench", idempotency_key=f"bench-{time.time_ns()}")
    return user


def _wait_done(job_id, timeout=60.0):
    from pipeline.models import Job

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = Job.objects.get(pk=job_id)
        if job.is_terminal:
            return job
        time.sleep(0.05)
    raise SystemExit(f"job {job_id} did not finish")


def part_enqueue(samples: int) -> dict:
    _django()
    from pipeline import services
    from pipeline.owners import JobOwner

    user = _bench_user()
    worker = spawn([sys.executable, "manage.py", "qcluster"], dict(os.environ))
    try:
        _wait_done(services.job_create(owner=JobOwner.for_user(user), kind="scad_render", params={"scad": "cube(1);"}).pk)  # warm-up
        latencies = []
        for _ in range(samples):
            job = _wait_done(services.job_create(owner=JobOwner.for_user(user), kind="scad_render", params={"scad": "cube(1);"}).pk)
            latencies.append((job.started_at - job.queued_at).total_seconds() * 1000)
            time.sleep(0.2)  # an idle worker: what one request waits for, not a backlog
    finally:
        stop(worker)
    return {"p50": percentile(latencies, 0.5), "p95": percentile(latencies, 0.95), "n": len(latencies)}


def part_socket(jobs: int) -> dict:
    _django()
    import websockets

    from accounts.tokens import token_pair_issue
    from pipeline import services
    from pipeline.owners import JobOwner
    from pipeline.transitions import TERMINAL

    user = _bench_user()
    token = token_pair_issue(user=user).access
    port = free_port()
    web = spawn([sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "mozukai_hub.asgi:application"],
                dict(os.environ))
    worker = spawn([sys.executable, "manage.py", "qcluster"], dict(os.environ))
    latencies: list[float] = []
    try:
        wait_port(port)

        async def watch(job_id, after):
            url = f"ws://127.0.0.1:{port}/api/v1/jobs-socket/{job_id}?after={after}&token={token}"
            async with websockets.connect(url) as ws:
                await asyncio.sleep(0.3)  # subscribed before the job starts
                from asgiref.sync import sync_to_async

                await sync_to_async(services.job_start)(job=await sync_to_async(_job)(job_id))
                while True:
                    message = json.loads(await asyncio.wait_for(ws.recv(), timeout=30))
                    arrived = time.time()
                    latencies.append((arrived - datetime.fromisoformat(message["at"]).timestamp()) * 1000)
                    if message["type"] == "status" and message["data"]["status"] in TERMINAL:
                        return

        def _job(job_id):
            from pipeline.models import Job

            return Job.objects.get(pk=job_id)

        for _ in range(jobs):
            job = services.job_create(owner=JobOwner.for_user(user), kind="scad_render", engine="slow_test",
                                      params={"scad": "cube(2);", "prompt": "12"}, start=False)
            asyncio.run(watch(job.pk, job.last_event_seq))
    finally:
        stop(worker)
        stop(web)
    return {"p50": percentile(latencies, 0.5), "p95": percentile(latencies, 0.95), "n": len(latencies)}


def part_pot(runs: int) -> dict:
    _django()
    from pipeline import services
    from pipeline.owners import JobOwner

    user = _bench_user()
    worker = spawn([sys.executable, "manage.py", "qcluster"], dict(os.environ))
    times = []
    try:
        _wait_done(services.job_create(owner=JobOwner.for_user(user), kind="scad_render", params={"scad": "cube(1);"}).pk)  # warm-up
        for _ in range(runs):
            started = time.monotonic()
            job = services.job_create(owner=JobOwner.for_user(user), prompt="a bonsai pot 120 mm wide, 40 mm tall, with a drainage hole",
                                      output_format="glb")
            job = _wait_done(job.pk)
            if job.status != "completed":
                raise SystemExit(f"pot job {job.status}: {job.error}")
            times.append(time.monotonic() - started)
    finally:
        stop(worker)
    return {"median": statistics.median(times), "max": max(times), "n": len(times)}


PARTS = {"enqueue": part_enqueue, "socket": part_socket, "pot": part_pot}


def _child(part: str, size: int, *, redis: bool) -> dict:
    out = subprocess.run([sys.executable, __file__, "--part", part, "--size", str(size)], cwd=ROOT,
                         env=_env(redis=redis), capture_output=True, text=True, timeout=600)
    if out.returncode != 0:
        raise SystemExit(f"{part} ({'redis' if redis else 'no redis'}) failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--samples", type=int, default=30)
    parser.add_argument("--part", choices=PARTS)
    parser.add_argument("--size", type=int, default=0)
    args = parser.parse_args()
    if args.part:
        print(json.dumps(PARTS[args.part](args.size)))
        return 0
    if not (os.environ.get("DATABASE_URL") and os.environ.get("REDIS_URL")):
        return subprocess.call([sys.executable, "-m", "mozukai_hub.testing.services", "--", sys.executable, __file__,
                                "--samples", str(args.samples)], cwd=ROOT)
    subprocess.run([sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=ROOT, check=True)

    missed = []
    print("pipeline benchmark (1 django-q2 worker process; Redis modes on PostgreSQL, others on SQLite as `make run`)")
    for label, redis, target in [("ORM/SQLite", False, 150), ("Redis/PG", True, 20)]:
        r = _child("enqueue", args.samples, redis=redis)
        ok = r["p50"] <= target
        missed += [] if ok else [f"enqueue→start {label}"]
        print(f"  enqueue→start  {label:13} p50 {r['p50']:7.1f} ms  p95 {r['p95']:7.1f} ms  (n={r['n']}, target p50 ≤ {target} ms) {'ok' if ok else 'MISSED'}")
    for label, redis, target in [("Redis layer", True, 50), ("DB poll/SQLite", False, 1000)]:
        r = _child("socket", 3, redis=redis)
        ok = r["p50"] <= target
        missed += [] if ok else [f"worker→socket {label}"]
        print(f"  worker→socket  {label:13} p50 {r['p50']:7.1f} ms  p95 {r['p95']:7.1f} ms  (n={r['n']}, target p50 ≤ {target} ms) {'ok' if ok else 'MISSED'}")
    r = _child("pot", 3, redis=True)
    ok = r["median"] <= 5
    missed += [] if ok else ["pot end-to-end"]
    print(f"  pot end-to-end (text_to_3d → GLB)  median {r['median']:.2f} s  max {r['max']:.2f} s  (n={r['n']}, target ≤ 5 s) {'ok' if ok else 'MISSED'}")
    if missed:
        print("missed: " + ", ".join(missed))
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
