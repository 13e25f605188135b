"""Benchmark: photogrammetry end to end through the API against the bare pipeline, in one run.

    .venv/bin/python bench/photogrammetry.py [--views 24] [--quality balanced] [--rounds 1]

Renders `--views` views (640×480) of the synthetic scene (pipeline.photogrammetry.synthetic), then:
  bare      the same COLMAP commands the engine runs (feature_extractor, exhaustive_matcher,
            mapper, model_analyzer, model_converter) in the program sandbox, plus the same
            meshing step (normals, poisson_mesher, GLB + PLY), called directly;
  api       the embedded default as `make run` starts it (SQLite, the django-q2 ORM broker,
            daphne and one worker process): POST /api/v1/pipeline/upload with the photos,
            poll GET /api/v1/pipeline/status/{id} until it ends, GET the GLB.
With --rounds N the two alternate (bare, api, api, bare, …) and the medians are compared.
Prints both times, their ratio, the registered views and the focal length against the truth.
Targets: api ≤ 1.2 × bare, api ≤ 120 s, every view registered. Exits 1 when one is missed.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench._processes import free_port, spawn, stop  # noqa: E402
PASSWORD = "bench-password-42"
POLL_SECONDS = 0.7


def _django(sqlite_path: str) -> dict:
    """The embedded default's environment (SQLite, ORM broker, DB-poll websockets), set up here too."""
    env = {**os.environ, "SQLITE_PATH": sqlite_path, "Q_WORKERS": "1", "LOG_LEVEL": "WARNING",
           "PIPELINE_MAX_JOBS_PER_MINUTE": "0", "PIPELINE_MAX_JOBS_IN_FLIGHT": "0"}
    env.pop("DATABASE_URL", None)
    env.pop("REDIS_URL", None)
    os.environ.clear()
    os.environ.update(env)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mozukai_hub.settings")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", "--noinput", verbosity=0)
    return env


def _bench_user() -> str:
    from accounts.models import User
    from allauth.account.models import EmailAddress
    from billing.services import credits_grant

    email = "bench-photogrammetry@example.com"
    user = User.objects.filter(email=email).first() or User.objects.create_user(email, PASSWORD, username="benchpg")
    EmailAddress.objects.update_or_create(user=user, email=email, defaults={"primary": True, "verified": True})
    credits_grant(user=user, amount=100, reason="bench", idempotency_key=f"bench-pg-{time.time_ns()}")
    return email


def bare(images: Path, work: Path, *, views: int, quality: str) -> dict:
    from django.conf import settings

    from mozukai_hub.sandbox import run_program
    from pipeline.photogrammetry.colmap import reconstruct
    from pipeline.photogrammetry.mesh import mesh_build

    def run(argv, *, on_line=None, env=None):
        return run_program(argv, cwd=work, timeout_seconds=900, memory_bytes=settings.COLMAP_MEMORY_BYTES,
                           file_bytes=8 * 1024 ** 3, env=env, on_line=on_line)

    started = time.monotonic()
    model = reconstruct(images=images, workspace=work / "colmap", count=views, single_camera=True, quality=quality, run=run)
    reconstructed = time.monotonic()
    facts = mesh_build(model=model, workdir=work, run=run)
    ended = time.monotonic()
    return {"seconds": ended - started, "colmap": reconstructed - started, "mesh": ended - reconstructed,
            "quality": model.quality(total_images=views), "faces": facts["faces"]}


def api(images: list[Path], env: dict, *, quality: str, email: str) -> dict:
    import httpx

    port = free_port()
    web = spawn([sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "mozukai_hub.asgi:application"], env)
    worker = spawn([sys.executable, "manage.py", "qcluster"], env)
    base = f"http://127.0.0.1:{port}"
    try:
        with httpx.Client(base_url=base, timeout=120) as client:
            for _ in range(200):
                try:
                    if client.get("/api/v1/health").status_code < 500:
                        break
                except httpx.TransportError:
                    time.sleep(0.1)
            token = client.post("/api/v1/auth/login", json={"email": email, "password": PASSWORD}).json()["access_token"]
            client.headers["Authorization"] = f"Bearer {token}"
            time.sleep(2)  # the worker process is up (django-q2 starts its pool)
            files = [("images", (p.name, p.read_bytes(), "image/jpeg")) for p in images]
            started = time.monotonic()
            reply = client.post("/api/v1/pipeline/upload", files=files, data={"quality": quality})
            if reply.status_code != 202:
                raise SystemExit(f"upload answered {reply.status_code}: {reply.text[:500]}")
            job_id = reply.json()["job_id"]
            accepted = time.monotonic()
            while True:
                # Polled as a client would (the API's user throttle is 100 requests a minute); the
                # page follows the websocket instead. Costs at most POLL_SECONDS of the figure.
                polled = client.get(f"/api/v1/pipeline/status/{job_id}")
                if polled.status_code != 200:
                    raise SystemExit(f"status answered {polled.status_code}: {polled.text[:300]}")
                status = polled.json()
                if status["status"] in {"completed", "failed", "cancelled"}:
                    break
                if time.monotonic() - started > 900:
                    raise SystemExit("the job did not finish in 15 minutes")
                time.sleep(POLL_SECONDS)
            ended = time.monotonic()
            if status["status"] != "completed":
                raise SystemExit(f"the job ended {status['status']}: {status['error']}")
            glb = client.get(f"/api/v1/pipeline/download/{job_id}", follow_redirects=True)
            assert glb.content[:4] == b"glTF", "the download is not a GLB"
    finally:
        stop(web)
        stop(worker)
    return {"seconds": ended - started, "upload": accepted - started, "quality": status["quality"],
            "faces": status["mesh"]["faces"], "glb_bytes": len(glb.content)}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--views", type=int, default=24)
    parser.add_argument("--quality", default="balanced", choices=["fast", "balanced"])
    parser.add_argument("--rounds", type=int, default=1, help="rounds of (bare, api), alternating the order")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-photogrammetry-") as directory:
        tmp = Path(directory)
        env = _django(str(tmp / "db.sqlite3"))
        from pipeline.photogrammetry.synthetic import render_scene

        rendered = time.monotonic()
        truth = render_scene(tmp / "scene", views=args.views)
        (tmp / "scene" / "truth.json").unlink()
        rendered = time.monotonic() - rendered
        images = sorted((tmp / "scene").glob("*.jpg"))
        email = _bench_user()
        bares, apis = [], []
        # Rounds alternate the order (bare, api, api, bare, …) so a drift in the machine's load
        # weighs on both sides alike; the figures are medians.
        for round_number in range(args.rounds):
            order = ("bare", "api") if round_number % 2 == 0 else ("api", "bare")
            for side in order:
                if side == "bare":
                    work = tmp / f"bare-{round_number}"
                    work.mkdir()
                    bares.append(bare(tmp / "scene", work, views=args.views, quality=args.quality))
                else:
                    apis.append(api(images, env, quality=args.quality, email=email))
                done = bares[-1] if side == "bare" else apis[-1]
                print(f"  (round {round_number + 1}: {side} {done['seconds']:.1f} s)", flush=True)
    b = sorted(bares, key=lambda r: r["seconds"])[len(bares) // 2]
    a = sorted(apis, key=lambda r: r["seconds"])[len(apis) // 2]

    ratio = a["seconds"] / b["seconds"]
    registered = a["quality"]["registered_images"]
    focal_error = abs(a["quality"]["focal_px"] - truth.focal_px) / truth.focal_px
    print(f"photogrammetry benchmark: {args.views} views 640×480 (rendered in {rendered:.1f} s), quality {args.quality}, "
          f"{os.cpu_count()} cores, {args.rounds} round(s): bare {[round(r['seconds'], 1) for r in bares]} s, "
          f"api {[round(r['seconds'], 1) for r in apis]} s, load average {os.getloadavg()[0]:.1f}")
    print(f"  bare   COLMAP {b['colmap']:6.1f} s + mesh {b['mesh']:5.1f} s = {b['seconds']:6.1f} s   "
          f"registered {b['quality']['registered_images']}/{args.views}, {b['quality']['points']} points, {b['faces']} faces")
    print(f"  api    upload → completed {a['seconds']:6.1f} s (upload + pre-flight {a['upload']:.1f} s)   "
          f"registered {registered}/{args.views}, {a['quality']['points']} points, {a['faces']} faces, "
          f"GLB {a['glb_bytes'] / 1024:.0f} KB")
    print(f"  ratio  api / bare = {ratio:.2f}×   focal {a['quality']['focal_px']} px vs truth {truth.focal_px:g} px "
          f"({focal_error:.2%})   reprojection {a['quality']['mean_reprojection_error_px']} px")
    missed = [name for name, ok in [("overhead ≤ 1.2×", ratio <= 1.2), ("api ≤ 120 s", a["seconds"] <= 120),
                                    (f"{args.views}/{args.views} registered", registered == args.views)] if not ok]
    print("targets: " + ("all met" if not missed else "MISSED " + ", ".join(missed)))
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
