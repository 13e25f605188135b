"""Benchmark: the studio's local renderers on this machine.

    .venv/bin/python bench/studio.py [--runs 5]

Prints medians of `--runs` runs, each beside the bare Pillow operations it is built from,
timed in the same run (so a busy machine slows both alike and the ratio stays readable):
  variant        a 1920×1080 thumbnail variant with a selfie cut-out (cold: the cut-out is
                 not reused between runs), PNG encoded; against Pillow opening the selfie,
                 resizing it, compositing it on a 1920×1080 canvas, drawing the headline and
                 saving the PNG. Target ≤ 1.5 s.
  styled photo   a 12 MP (4000×3000) JPEG through `studio.generator.styling.style_photo` in
                 each category, JPEG encoded; against Pillow opening it, resizing it to 2048 px
                 and saving the JPEG. Target ≤ 2 s.
  job            POST→completed of a 2-variant 1920×1080 thumbnail job with a selfie on the
                 embedded default (`make run`'s: SQLite, the ORM broker, one django-q2 worker
                 process): `pipeline.services.job_create` as the API calls it, then the job's
                 row polled until completed. Target ≤ 6 s.
Exits 1 when a target is missed.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# This file is bench/studio.py: its folder must not stand first on the path, or `studio` is it.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]
sys.path.insert(0, str(ROOT))
from bench._processes import spawn, stop  # noqa: E402

import numpy as np  # noqa: E402
from PIL import Image, ImageDraw, ImageFont  # noqa: E402

from studio.tests.synthetic_faces import synthetic_selfie  # noqa: E402

CATEGORIES = ("portraits", "editorial", "documentary")
TARGETS = {"variant": 1.5, "photo": 2.0, "job": 6.0}
SPEC = {"project_id": None, "title": "Bench", "mode": "design", "platform": "youtube", "width": 1920, "height": 1080,
        "headline": "I Tried Every Budget Hack", "subtext": "So you do not have to", "vibe": "bold", "quality": "std",
        "variants": 2, "inputs": {"selfie": None, "ref": None, "copy_target": None}}


def _pipeline_bench():
    """bench/jobs.py (worker spawning, the bench user, waiting for a job), loaded by path."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("bench_jobs", ROOT / "bench" / "jobs.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _median_pair(runs: int, work, bare) -> dict:
    """Median seconds of `work` and of `bare`, alternated run by run."""
    work_times, bare_times = [], []
    for _ in range(runs):
        started = time.perf_counter()
        work()
        work_times.append(time.perf_counter() - started)
        started = time.perf_counter()
        bare()
        bare_times.append(time.perf_counter() - started)
    work_s, bare_s = statistics.median(work_times), statistics.median(bare_times)
    return {"median": work_s, "bare": bare_s, "ratio": work_s / bare_s if bare_s else 0.0, "n": runs,
            "max": max(work_times)}


def _selfie(folder: Path) -> Path:
    path = folder / "selfie.jpg"
    synthetic_selfie(1200, 1500)[0].save(path, quality=92)
    return path


def _photo_12mp(folder: Path) -> Path:
    """A 4000×3000 JPEG with a face and real texture (noise), as a phone camera writes one."""
    face = synthetic_selfie(1500, 1500, backdrop=(120, 140, 110))[0].resize((3000, 3000))
    canvas = Image.new("RGB", (4000, 3000), (120, 140, 110))
    canvas.paste(face, (500, 0))
    noise = np.random.default_rng(1).normal(0, 9, (3000, 4000, 3))
    canvas = Image.fromarray(np.clip(np.asarray(canvas).astype(np.float32) + noise, 0, 255).astype(np.uint8))
    path = folder / "photo.jpg"
    canvas.save(path, quality=90)
    return path


def part_variant(runs: int) -> dict:
    from studio.thumbnail import render
    from studio.thumbnail.fonts import DISPLAY_FACE

    with tempfile.TemporaryDirectory() as folder:
        selfie = _selfie(Path(folder))
        render.render_variant(SPEC, 1, selfie=selfie)  # warm-up (imports, fonts, the cascade)
        counter = iter(range(10 ** 6))

        def work():
            render._cutout.cache_clear()
            image = render.render_variant(SPEC, 1 + next(counter) % 2, selfie=selfie).image
            image.save(io.BytesIO(), "PNG", compress_level=3)

        def bare():
            canvas = Image.new("RGBA", (1920, 1080), (20, 20, 20, 255))
            with Image.open(selfie) as source:
                person = source.convert("RGBA").resize((864, 1080), Image.Resampling.BICUBIC)
            canvas.alpha_composite(person, (1000, 0))
            ImageDraw.Draw(canvas).text((80, 80), SPEC["headline"], font=ImageFont.truetype(str(DISPLAY_FACE), 160),
                                        fill="white", stroke_width=9, stroke_fill="black")
            canvas.convert("RGB").save(io.BytesIO(), "PNG", compress_level=3)

        return _median_pair(runs, work, bare)


def part_photo(runs: int) -> dict:
    try:
        from studio.generator.styling import style_photo
    except ImportError as exc:
        return {"available": False, "reason": f"studio.generator.styling.style_photo: {exc}"}
    out = {"available": True}
    with tempfile.TemporaryDirectory() as folder:
        photo = _photo_12mp(Path(folder))
        for category in CATEGORIES:
            def work():
                with Image.open(photo) as image:
                    style_photo(image, category).save(io.BytesIO(), "JPEG", quality=90)

            def bare():
                with Image.open(photo) as image:
                    small = image.convert("RGB")
                    small.thumbnail((2048, 2048), Image.Resampling.LANCZOS)
                    small.save(io.BytesIO(), "JPEG", quality=90)

            work()  # warm-up
            out[category] = _median_pair(runs, work, bare)
    return out


def part_job(runs: int) -> dict:
    """In a child process on the embedded default (SQLite, ORM broker)."""
    pipeline_bench = _pipeline_bench()
    pipeline_bench._django()
    from django.core.files.uploadedfile import SimpleUploadedFile

    from pipeline import services
    from pipeline.owners import JobOwner

    user = pipeline_bench._bench_user()
    buffer = io.BytesIO()
    synthetic_selfie(1200, 1500)[0].save(buffer, "JPEG", quality=92)
    selfie = services.asset_upload(user=user, upload=SimpleUploadedFile("selfie.jpg", buffer.getvalue()), role="selfie")
    owner = JobOwner.for_user(user)
    worker = spawn([sys.executable, "manage.py", "qcluster"], dict(os.environ))
    times = []
    try:
        warm = services.job_create(owner=owner, kind="thumbnail", params={**SPEC, "variants": 1, "headline": "Warm up"})
        pipeline_bench._wait_done(warm.pk)
        for run in range(runs):
            started = time.monotonic()
            job = services.job_create(owner=owner, kind="thumbnail", params={
                **SPEC, "headline": f"{SPEC['headline']} {run + 1}", "inputs": {"selfie": str(selfie.pk)}})
            job = pipeline_bench._wait_done(job.pk)
            if job.status != "completed":
                raise SystemExit(f"thumbnail job {job.status}: {job.error}")
            times.append(time.monotonic() - started)
    finally:
        stop(worker)
    return {"median": statistics.median(times), "max": max(times), "n": len(times)}


def _job_child(runs: int) -> dict:
    env = _pipeline_bench()._env(redis=False)
    env.pop("PIPELINE_ENGINE_MODULES", None)
    out = subprocess.run([sys.executable, __file__, "--part", "job", "--runs", str(runs)], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=900)
    Path(env["SQLITE_PATH"]).unlink(missing_ok=True)
    if out.returncode != 0:
        raise SystemExit(f"job part failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--part", choices=["job"])
    args = parser.parse_args()
    if args.part == "job":
        print(json.dumps(part_job(args.runs)))
        return 0
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mozukai_hub.settings")
    missed = []
    print(f"studio benchmark (medians of {args.runs} runs; 'bare' = the Pillow operations it is built from, same run)")
    r = part_variant(args.runs)
    ok = r["median"] <= TARGETS["variant"]
    missed += [] if ok else ["variant"]
    print(f"  variant 1920×1080 + selfie cut-out  {r['median']:6.2f} s  bare {r['bare']:6.3f} s  ×{r['ratio']:5.1f}"
          f"  (max {r['max']:.2f} s, target ≤ {TARGETS['variant']} s) {'ok' if ok else 'MISSED'}")
    photo = part_photo(args.runs)
    if not photo["available"]:
        print(f"  styled 12 MP photo: not available ({photo['reason']})")
    else:
        for category in CATEGORIES:
            r = photo[category]
            ok = r["median"] <= TARGETS["photo"]
            missed += [] if ok else [f"photo {category}"]
            print(f"  styled 12 MP photo {category:11}     {r['median']:6.2f} s  bare {r['bare']:6.3f} s  ×{r['ratio']:5.1f}"
                  f"  (max {r['max']:.2f} s, target ≤ {TARGETS['photo']} s) {'ok' if ok else 'MISSED'}")
    r = _job_child(max(3, args.runs // 2 + 1))
    ok = r["median"] <= TARGETS["job"]
    missed += [] if ok else ["job"]
    print(f"  2-variant job POST→completed (embedded: SQLite, ORM broker)  {r['median']:6.2f} s  (max {r['max']:.2f} s,"
          f" n={r['n']}, target ≤ {TARGETS['job']} s) {'ok' if ok else 'MISSED'}")
    if missed:
        print("missed: " + ", ".join(missed))
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
