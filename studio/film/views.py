"""Film pages (/studio/films/): the user's films, the scene editor, and voice samples.

The editor is a small client of the JSON API (static/studio/film.js): PATCH the project, upload
scene images (POST /api/v1/assets/upload, type ref, project_id), POST /api/v1/jobs {project_id},
follow the job's nine states over the jobs websocket, then play the MP4 with its WebVTT track.
"""

import tempfile
import time
from pathlib import Path

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.cache import cache
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from mozukai_hub.sandbox import ProgramMissing, ProgramTimeout, run_program
from pipeline.models import Job
from pipeline.transitions import STATUS_ORDER, TERMINAL
from studio import presets, selectors
from studio.api.serializers import ProjectSerializer
from studio.models import Project

from .engine import ESPEAK_FILE_BYTES, ESPEAK_MEMORY_BYTES
from .voices import DEFAULT_PITCH, DEFAULT_SPEED, DEFAULT_VOICE, PITCH_RANGE, SPEED_RANGE, voice_codes

SAMPLE_TEXT = "Hello! This is how the narration of your film will sound."
SAMPLE_CACHE_SECONDS = 24 * 3600


def _latest_job(project: Project) -> dict | None:
    job = selectors.project_jobs(project=project).filter(kind=Job.Kind.FILM).first()
    if job is None:
        return None
    reached = []
    for data in job.events.filter(type="status").order_by("seq").values_list("data", flat=True):
        if data.get("status") and data["status"] not in reached:
            reached.append(data["status"])
    return {"id": str(job.pk), "status": job.status, "progress": job.progress, "after": job.last_event_seq,
            "reached": reached, "error": job.error, "duration_s": (job.result or {}).get("duration_s")}


@login_required
def film_list(request):
    films = selectors.project_list(user=request.user, kind=Project.Kind.FILM)[:100]
    return render(request, "studio/film_list.html", {"films": films, "default_voice": DEFAULT_VOICE})


@login_required
def film_editor(request, project_id):
    project = selectors.project_get_for_user(user=request.user, project_id=project_id)
    if project.kind != Project.Kind.FILM:
        raise Http404("No film project with this id.")
    return render(request, "studio/film.html", {
        "project": project,
        "project_data": ProjectSerializer(project, context={"request": request}).data,
        "presets_data": {**presets.film_presets(), "vibes": [{"key": v.key, "name": v.name} for v in presets.VIBES.values()],
                         "states": STATUS_ORDER, "terminal": sorted(TERMINAL)},
        "job_data": _latest_job(project),
    })


def _error(status: int, code: str, message: str, **headers) -> JsonResponse:
    response = JsonResponse({"error": {"code": code, "message": message}}, status=status)
    for name, value in headers.items():
        response[name.replace("_", "-")] = value
    return response


def _int_param(request, name: str, default: int, bounds: tuple[int, int]) -> int | None:
    raw = request.GET.get(name, "")
    try:
        value = int(raw) if raw != "" else default
    except ValueError:
        return None
    return value if bounds[0] <= value <= bounds[1] else None


def _sample_render(voice: str, speed: int, pitch: int) -> bytes:
    with tempfile.TemporaryDirectory(prefix="voice-sample-") as folder:
        argv = [settings.ESPEAK_BINARY, "-v", voice, "-s", str(speed), "-p", str(pitch), "-w", "sample.wav", SAMPLE_TEXT]
        result = run_program(argv, cwd=Path(folder), timeout_seconds=15, memory_bytes=ESPEAK_MEMORY_BYTES,
                             file_bytes=ESPEAK_FILE_BYTES, cpu_seconds=10)
        wav = Path(folder) / "sample.wav"
        if result.returncode != 0 or not wav.exists():
            raise RuntimeError(result.output_tail[-300:] or "espeak-ng wrote no sample")
        return wav.read_bytes()


@login_required
@require_GET
def voice_sample(request):
    """A WAV of SAMPLE_TEXT in `voice` at `speed` and `pitch`: cached per choice (for everyone),
    and each user may have FILM_VOICE_SAMPLES_PER_MINUTE new ones rendered per minute."""
    voice = request.GET.get("voice") or DEFAULT_VOICE
    if voice not in voice_codes():
        return _error(400, "invalid", f"Unknown voice {voice!r}.")
    speed = _int_param(request, "speed", DEFAULT_SPEED, SPEED_RANGE)
    pitch = _int_param(request, "pitch", DEFAULT_PITCH, PITCH_RANGE)
    if speed is None or pitch is None:
        which = "speed" if speed is None else "pitch"
        low, high = SPEED_RANGE if speed is None else PITCH_RANGE
        return _error(400, "invalid", f"{which} must be a whole number from {low} to {high}.")
    key = f"film-voice-sample:{voice}:{speed}:{pitch}"
    wav = cache.get(key)
    if wav is None:
        window = int(time.time() // 60)
        counter = f"film-voice-sample-rate:{request.user.pk}:{window}"
        cache.add(counter, 0, 120)
        if cache.incr(counter) > settings.FILM_VOICE_SAMPLES_PER_MINUTE:
            wait = 60 - int(time.time() % 60)
            return _error(429, "too_many_requests",
                          f"At most {settings.FILM_VOICE_SAMPLES_PER_MINUTE} voice samples a minute; try again in {wait} s.",
                          Retry_After=str(wait))
        try:
            wav = _sample_render(voice, speed, pitch)
        except (ProgramMissing, ProgramTimeout, RuntimeError) as exc:
            return _error(503, "voice_unavailable", f"The voice sample could not be made: {exc}")
        cache.set(key, wav, SAMPLE_CACHE_SECONDS)
    response = HttpResponse(wav, content_type="audio/wav")
    response["Cache-Control"] = "private, max-age=86400"
    return response
