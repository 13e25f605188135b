"""Benchmark: a three-scene, 9-second 720p film end to end, against its bare commands.

    .venv/bin/python bench/film.py [--runs 3]

Needs PostgreSQL and Redis: when DATABASE_URL / REDIS_URL are unset it re-runs itself under
`mozukai_hub.testing.services` (a throwaway cluster and redis-server).

Each run, in turns:
  engine  `job_create` (validating: moderation; queued) then `pipeline.tasks.job_run` in this
          process (what a worker does: claim, the engine's stages through the sandbox, events,
          storing the MP4, VTT and poster, settling the credits), timed from create to completed;
  bare    the same film's commands (studio.film.filtergraphs: 3 × espeak-ng, 3 scene clips,
          the cross-fade join, the audio mix, the compose with burned subtitles) written into a
          shell script and run by bash on the same stills, timed around `bash script.sh`.

Prints each run's figures and the medians, then the ratios. Targets: engine ≤ 1.5 × the film's
length, and engine ≤ 1.3 × bare. Exits 1 when a target is missed.
"""

from __future__ import annotations

import argparse
import os
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
RENDER_TARGET = 1.5
OVERHEAD_TARGET = 1.3
SCENES = [
    {"narration": "A quiet morning over the harbour.", "visual": "Harbour at dawn", "duration_s": 3, "image_asset_id": None},
    {"narration": "The boats go out one by one.", "visual": "Boats leaving", "duration_s": 3, "image_asset_id": None},
    {"narration": "And the town wakes up.", "visual": "The town wakes", "duration_s": 3, "image_asset_id": None},
]
PARAMS = {"title": "Harbour morning", "vibe": "dramatic", "aspect_ratio": "16:9", "resolution": "720p", "voice": "en-us",
          "voice_speed": 165, "voice_pitch": 50, "subtitles": "both", "scenes": SCENES}


def _django():
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mozukai_hub.settings")
    import django

    django.setup()


def _bench_user():
    from accounts.models import User
    from billing.services import credits_grant

    user = User.objects.filter(email="film-bench@example.com").first() or User.objects.create_user(
        "film-bench@example.com", "bench-password-42", username="film-bench")
    credits_grant(user=user, amount=1000, reason="bench", idempotency_key=f"film-bench-{time.time_ns()}")
    return user


def engine_run(user) -> tuple[float, dict]:
    from pipeline import services, tasks
    from pipeline.models import Job
    from pipeline.owners import JobOwner

    started = time.perf_counter()
    job = services.job_create(owner=JobOwner.for_user(user), kind="film", params=PARAMS)
    outcome = tasks.job_run(str(job.pk))
    elapsed = time.perf_counter() - started
    job = Job.objects.get(pk=job.pk)
    if outcome != "completed":
        raise SystemExit(f"the film job ended {job.status}: {job.error}")
    return elapsed, job.result


def bare_script(folder: Path) -> Path:
    """The film's commands as a shell script in `folder`, with its stills and narration texts."""
    from django.conf import settings

    from studio.film import filtergraphs
    from studio.film.engine import wav_seconds
    from studio.film.frames import scene_frame
    from studio.film.plan import film_plan, webvtt

    spoken, narration = [], []
    for i, scene in enumerate(SCENES):
        (folder / f"narration-{i}.txt").write_text(scene["narration"] + "\n")
        argv = filtergraphs.narration_argv(text_file=f"narration-{i}.txt", wav=f"narration-{i}.wav", voice=PARAMS["voice"],
                                           speed=PARAMS["voice_speed"], pitch=PARAMS["voice_pitch"])
        narration.append(argv)
        subprocess.run(argv, cwd=folder, check=True, capture_output=True)  # the plan needs the lengths
        spoken.append(wav_seconds(folder / f"narration-{i}.wav"))
    plan = film_plan(scenes=SCENES, spoken=spoken, aspect=PARAMS["aspect_ratio"], resolution=PARAMS["resolution"])
    for scene in plan.scenes:
        scene_frame((plan.width, plan.height), image_path=None, visual=scene.visual, vibe=PARAMS["vibe"],
                    title=PARAMS["title"], index=scene.index).save(folder / f"frame-{scene.index}.png", compress_level=1)
    (folder / "film.vtt").write_text(webvtt(plan), encoding="utf-8")
    commands = [*narration]
    commands += [filtergraphs.scene_clip_argv(plan=plan, index=i, frame=f"frame-{i}.png", out=f"clip-{i}.mp4")
                 for i in range(len(plan.scenes))]
    commands.append(filtergraphs.join_argv(plan=plan, clips=[f"clip-{i}.mp4" for i in range(len(plan.scenes))],
                                           out="video.mp4", final=False))
    commands.append(filtergraphs.audio_argv(plan=plan, narrations=[(f"narration-{s.index}.wav", s.narration_at)
                                                                   for s in plan.scenes], out="audio.m4a"))
    commands.append(filtergraphs.compose_argv(plan=plan, video="video.mp4", audio="audio.m4a", out="film.mp4",
                                              burn_vtt="film.vtt"))
    script = folder / "film.sh"
    script.write_text("#!/bin/sh\nset -e\n" + "\n".join(shlex.join(argv) for argv in commands) + "\n")
    if settings.FFMPEG_BINARY != "ffmpeg" or settings.ESPEAK_BINARY != "espeak-ng":
        print(f"  (binaries: {settings.FFMPEG_BINARY}, {settings.ESPEAK_BINARY})")
    return script


def bare_run() -> float:
    folder = Path(tempfile.mkdtemp(prefix="film-bench-"))
    try:
        script = bare_script(folder)
        started = time.perf_counter()
        subprocess.run(["bash", str(script)], cwd=folder, check=True, capture_output=True)
        elapsed = time.perf_counter() - started
        if not (folder / "film.mp4").stat().st_size:
            raise SystemExit("the bare script made no film")
        return elapsed
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    if not (os.environ.get("DATABASE_URL") and os.environ.get("REDIS_URL")):
        return subprocess.call([sys.executable, "-m", "mozukai_hub.testing.services", "--", sys.executable, __file__,
                                "--runs", str(args.runs)], cwd=ROOT)
    subprocess.run([sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=ROOT, check=True)
    _django()
    from django.conf import settings

    settings.PIPELINE_MAX_JOBS_PER_MINUTE = 0  # one bench user, jobs back to back
    user = _bench_user()
    print(f"film benchmark: 3 scenes, {sum(s['duration_s'] for s in SCENES)} s asked, 720p 16:9, burned subtitles "
          f"({os.cpu_count()} cores)")
    engine_times, bare_times, length, timings = [], [], 0.0, []
    engine_run(user)  # warm-up: the image classifier and fonts load once per process
    for run in range(1, args.runs + 1):
        order = [("engine", None), ("bare", None)] if run % 2 else [("bare", None), ("engine", None)]
        for name, _ in order:
            if name == "engine":
                seconds, result = engine_run(user)
                engine_times.append(seconds)
                length = result["duration_s"]
                timings.append(result["timings_s"])
            else:
                bare_times.append(bare_run())
        print(f"  run {run}: engine {engine_times[-1]:6.2f} s   bare commands {bare_times[-1]:6.2f} s   "
              f"stages {timings[-1]}")
    engine, bare = statistics.median(engine_times), statistics.median(bare_times)
    render_ratio, overhead = engine / length, engine / bare
    ok_render, ok_overhead = render_ratio <= RENDER_TARGET, overhead <= OVERHEAD_TARGET
    print(f"  film length {length:.2f} s (planned before rendering)")
    print(f"  engine (create → completed) median {engine:.2f} s = {render_ratio:.2f} × the film's length "
          f"(target ≤ {RENDER_TARGET}) {'ok' if ok_render else 'MISSED'}")
    print(f"  bare ffmpeg + espeak-ng script median {bare:.2f} s; engine / bare = {overhead:.2f} "
          f"(target ≤ {OVERHEAD_TARGET}) {'ok' if ok_overhead else 'MISSED'}")
    return 0 if ok_render and ok_overhead else 1


if __name__ == "__main__":
    sys.exit(main())
