"""The local film engine end to end: real espeak-ng and ffmpeg through the sandbox, checked with
ffprobe and volumedetect. One small film is rendered once for the module and read by several
tests; the 9:16, cancel and failure cases render their own (1-scene) films."""

import os
import tempfile
import threading
import time
from pathlib import Path

import pytest
from django.core.exceptions import ValidationError
from django.test import override_settings
from PIL import Image

from billing.services import credit_account_for
from mozukai_hub.testing.fake_providers import fake_fal  # noqa: F401 (fixture)
from mozukai_hub.testing.fixtures import make_user
from mozukai_hub.testing.polling import wait_until
from pipeline import services, tasks
from pipeline.models import Asset, Job, JobEvent
from pipeline.owners import JobOwner
from pipeline.tests.conftest import grant
from studio.film.plan import NARRATION_PAD_S, cue_chunks, film_plan, webvtt

from .film_helpers import ffprobe, film_params, frame_at, mean_volume_db, ref_image

pytestmark = pytest.mark.django_db(transaction=True)

NINE_STATES = ["pending", "validating", "queued", "processing", "generating_images", "generating_video",
               "generating_audio", "composing", "completed"]
NARRATIONS = ["The red harbour wakes up.", "Boats leave & the gulls <cry> over the water."]


def _statuses(job_id) -> list[str]:
    seen = []
    for data in JobEvent.objects.filter(job_id=job_id, type="status").order_by("seq").values_list("data", flat=True):
        if not seen or seen[-1] != data["status"]:
            seen.append(data["status"])
    return seen


def _balance(user) -> int:
    return credit_account_for(user=user).balance


def _create(user, params) -> Job:
    return services.job_create(owner=JobOwner.for_user(user), kind="film", params=params)


@pytest.fixture(scope="module")
def film(django_db_setup, django_db_blocker, tmp_path_factory):
    """A three-scene 720p film (an uploaded image, a title card, a silent card), rendered once."""
    media, out = tmp_path_factory.mktemp("media"), tmp_path_factory.mktemp("film")
    with django_db_blocker.unblock(), override_settings(MEDIA_ROOT=str(media)):
        user = make_user()
        grant(user, 20)
        image = ref_image(user)
        before = _balance(user)
        params = film_params([
            {"narration": NARRATIONS[0], "visual": "", "duration_s": 1, "image_asset_id": str(image.pk)},
            {"narration": NARRATIONS[1], "visual": "Boats leaving", "duration_s": 2},
            {"narration": "", "visual": "The end", "duration_s": 1.5},
        ])
        job = _create(user, params)
        outcome = tasks.job_run(str(job.pk))
        job.refresh_from_db()
        files = {}
        for asset in Asset.objects.filter(job=job):
            path = out / f"film.{asset.asset_type}"
            with asset.file.open("rb") as handle:
                path.write_bytes(handle.read())
            files[asset.asset_type] = {"path": path, "primary": asset.is_primary}
        progress = list(JobEvent.objects.filter(job=job).order_by("seq").values_list("type", "data"))
        yield {
            "outcome": outcome, "job": job, "files": files, "statuses": _statuses(job.pk), "events": progress,
            "charged": before - _balance(user), "price": job.credit_cost,
        }


def test_renders_through_all_nine_states_in_order(film):
    assert film["outcome"] == "completed", film["job"].error
    assert film["statuses"] == NINE_STATES
    assert film["job"].progress == 100
    # the progress within the run only goes up
    percents = [data["progress"] for kind, data in film["events"] if kind == "progress"]
    assert percents == sorted(percents)


def test_the_films_length_is_known_before_rendering_and_matches_the_plan(film):
    plan = film["job"].result["plan"]
    lengths = [scene["length_s"] for scene in plan["scenes"]]
    spoken = [scene["spoken_s"] for scene in plan["scenes"]]
    # each scene lasts max(duration_s, spoken + 0.4 s), in whole frames
    for length, said, wanted in zip(lengths, spoken, [1, 2, 1.5]):
        assert length == pytest.approx(max(wanted, said + NARRATION_PAD_S if said else 0), abs=1 / 25 + 1e-6)
    assert spoken[0] > 1.0 and spoken[2] == 0  # espeak-ng's WAV says how long the narration is
    total = film["job"].result["duration_s"]
    assert total == pytest.approx(sum(lengths), abs=1e-3)
    # the plan's total was on the job (a progress message) before any frame was made
    kinds = [(kind, data) for kind, data in film["events"]]
    first_images = next(i for i, (kind, data) in enumerate(kinds) if kind == "status" and data["status"] == "generating_images")
    planned = [data.get("message", "") for kind, data in kinds[:first_images] if kind == "progress"]
    assert any(f"{total:.1f} s" in message for message in planned), planned


def test_mp4_is_h264_and_aac_of_the_planned_length_with_audible_narration(film):
    files = film["files"]
    assert sorted(files) == ["mp4", "png", "vtt"] and files["mp4"]["primary"]
    probe = ffprobe(files["mp4"]["path"])
    codecs = {s["codec_type"]: s for s in probe["streams"]}
    assert codecs["video"]["codec_name"] == "h264" and codecs["audio"]["codec_name"] == "aac"
    assert (codecs["video"]["width"], codecs["video"]["height"]) == (1280, 720)
    assert float(probe["format"]["duration"]) == pytest.approx(film["job"].result["duration_s"], abs=0.2)
    assert mean_volume_db(files["mp4"]["path"]) > -35  # loudness-normalised speech, not silence
    # +faststart: the index (moov) comes before the media data (mdat)
    head = files["mp4"]["path"].read_bytes()[:200_000]
    assert 0 <= head.find(b"moov") < head.find(b"mdat")


def test_vtt_cues_carry_the_narration_at_its_scene(film):
    text = film["files"]["vtt"]["path"].read_text()
    assert text.startswith("WEBVTT")
    assert "The red harbour wakes up." in text
    assert "Boats leave &amp; the gulls &lt;cry&gt;" in text.replace("\n", " ")
    starts = [scene["start_s"] for scene in film["job"].result["plan"]["scenes"]]
    cues = film["job"].result["plan"]["cues"]
    assert cues[0]["start"] == pytest.approx(starts[0] + 0.2, abs=0.01)
    assert cues[-1]["start"] >= starts[1]  # the second narration starts in the second scene
    assert film["job"].result["subtitles"] == {"mode": "both", "burned": True, "cues": len(cues)}


def test_scene_image_is_cover_cropped_and_poster_is_its_frame(film):
    poster = Image.open(film["files"]["png"]["path"]).convert("RGB")
    assert poster.size == (1280, 720)
    assert poster.getpixel((20, 360))[0] > 150 and poster.getpixel((1260, 360))[2] > 150  # red left, blue right
    # the film's first frame is that image (the Ken Burns move starts from it)
    first = frame_at(film["files"]["mp4"]["path"], 0.0)
    assert first.getpixel((40, 360))[0] > 150 and first.getpixel((1240, 360))[2] > 150


def test_a_completed_film_is_charged_once(film):
    assert film["charged"] == film["price"] > 0
    assert film["job"].credits_state == "settled"


def test_nine_by_sixteen_is_really_nine_by_sixteen(user, tmp_path):
    grant(user, 10)
    job = _create(user, film_params([{"narration": "Tall.", "visual": "Up", "duration_s": 1}],
                                    aspect_ratio="9:16", subtitles="file"))
    assert tasks.job_run(str(job.pk)) == "completed", Job.objects.get(pk=job.pk).error
    asset = Asset.objects.get(job=job, is_primary=True)
    path = tmp_path / "tall.mp4"
    with asset.file.open("rb") as handle:
        path.write_bytes(handle.read())
    video = next(s for s in ffprobe(path)["streams"] if s["codec_type"] == "video")
    assert (video["width"], video["height"]) == (720, 1280)
    assert video.get("sample_aspect_ratio", "1:1") in ("1:1", "0:1")
    assert Job.objects.get(pk=job.pk).result["subtitles"]["burned"] is False


def _ffmpeg_in(workdir_prefix: str) -> list[int]:
    """ffmpeg processes whose working directory is the job's work directory."""
    found = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            cwd = os.readlink(f"/proc/{pid}/cwd")
            name = Path(f"/proc/{pid}/comm").read_text().strip()
        except OSError:
            continue
        if name == "ffmpeg" and os.path.basename(cwd).startswith(workdir_prefix):
            found.append(int(pid))
    return found


def test_cancel_mid_render_stops_ffmpeg_and_returns_the_credits(user):
    grant(user, 10)
    before = _balance(user)
    job = _create(user, film_params([{"narration": "", "visual": "A long scene", "duration_s": 30}]))
    assert _balance(user) < before  # held
    prefix = f"job-{job.pk}-"
    outcome = []
    runner = threading.Thread(target=lambda: outcome.append(tasks.job_run(str(job.pk))))
    runner.start()
    try:
        wait_until(lambda: _ffmpeg_in(prefix), 20, interval=0.05, message="ffmpeg never started")
        services.job_cancel(job=Job.objects.get(pk=job.pk))
        cancelled_at = time.monotonic()
        wait_until(lambda: not _ffmpeg_in(prefix), 3, interval=0.05, message="ffmpeg outlived the cancel")
    finally:
        runner.join(timeout=30)
    assert outcome == ["aborted"] and time.monotonic() - cancelled_at < 3
    job.refresh_from_db()
    assert job.status == "cancelled" and job.credits_state == "released"
    assert _balance(user) == before
    assert not Asset.objects.filter(job=job).exists()
    assert not list(Path(tempfile.gettempdir()).glob(f"{prefix}*"))  # the work directory is gone


def test_a_failing_scene_says_which_and_why(user):
    grant(user, 10)
    before = _balance(user)
    image = ref_image(user)
    job = _create(user, film_params([
        {"narration": "Fine.", "visual": "One", "duration_s": 1},
        {"narration": "", "visual": "Two", "duration_s": 1, "image_asset_id": str(image.pk)},
    ]))
    Path(image.file.path).write_bytes(b"not an image any more")  # broken after it was checked
    assert tasks.job_run(str(job.pk)) == "failed"
    job.refresh_from_db()
    assert job.error.startswith("Scene 2: its image could not be used") and job.error_type == "bad_input"
    assert job.credits_state == "released" and _balance(user) == before


@pytest.mark.parametrize("change, field", [
    ({"scenes": []}, "scenes"),
    ({"scenes": [{"narration": "x", "visual": "", "duration_s": 1, "image_asset_id": None}] * 31}, "scenes"),
    ({"scenes": [{"narration": "x" * 601, "visual": "", "duration_s": 1, "image_asset_id": None}]}, "scenes[0].narration"),
    ({"scenes": [{"narration": "x", "visual": "", "duration_s": 31, "image_asset_id": None}]}, "scenes[0].duration_s"),
    ({"voice": "klingon"}, "voice"),
    ({"aspect_ratio": "4:3"}, "aspect_ratio"),
    ({"voice_speed": 500}, "voice_speed"),
    ({"subtitles": "sometimes"}, "subtitles"),
    ({"colour": "red"}, "colour"),
])
def test_bad_params_are_refused_naming_the_field_nothing_stored_or_spent(user, change, field):
    grant(user, 10)
    before = _balance(user)
    params = {**film_params([{"narration": "Hello.", "visual": "Hi", "duration_s": 1}]), **change}
    with pytest.raises(ValidationError) as refused:
        _create(user, params)
    assert field in refused.value.message_dict
    assert not Job.objects.exists() and _balance(user) == before


def test_someone_elses_image_is_refused(user):
    grant(user, 10)
    theirs = ref_image(make_user())
    with pytest.raises(ValidationError) as refused:
        _create(user, film_params([{"narration": "Hi.", "duration_s": 1, "image_asset_id": str(theirs.pk)}]))
    assert "scenes[0].image_asset_id" in refused.value.message_dict
    assert not Job.objects.exists()


# --- The plan, without rendering ------------------------------------------------------------

def test_plan_scene_lengths_starts_and_cues():
    scenes = [{"narration": "One two three.", "visual": "", "duration_s": 1, "image_asset_id": None},
              {"narration": "", "visual": "Card", "duration_s": 3, "image_asset_id": None}]
    plan = film_plan(scenes=scenes, spoken=[2.0, 0.0], aspect="1:1", resolution="1080p")
    assert (plan.width, plan.height) == (1080, 1080)
    assert [s.length for s in plan.scenes] == [2.4, 3] and plan.total == 5.4
    assert [s.start for s in plan.scenes] == [0, 2.4]
    assert plan.clip_seconds(0) == pytest.approx(2.4 + plan.fade) and plan.clip_seconds(1) == 3
    assert [(c.start, c.end, c.text) for c in plan.cues] == [(0.2, 2.2, "One two three.")]
    assert webvtt(plan) == "WEBVTT\n\n1\n00:00:00.200 --> 00:00:02.200\nOne two three.\n"


def test_long_narration_is_cut_into_readable_cues():
    text = ("The harbour wakes slowly while the fishing boats leave one by one into the grey morning light. "
            "Gulls follow them.")
    chunks = cue_chunks(text)
    assert all(len(chunk) <= 84 for chunk in chunks) and " ".join(chunks) == text
    assert chunks[-1] == "Gulls follow them."


# --- The optional remote engine: fal image-to-video, against a local server answering as fal ---

def test_fal_engine_animates_each_scene_and_fits_its_video(user, fake_fal, settings, tmp_path):
    grant(user, 10)
    job = services.job_create(owner=JobOwner.for_user(user), kind="film", engine="fal", params=film_params(
        [{"narration": "Waves.", "visual": "The sea", "duration_s": 1}, {"narration": "", "visual": "Sand", "duration_s": 1}],
        aspect_ratio="9:16", subtitles="file"))
    assert tasks.job_run(str(job.pk)) == "completed", Job.objects.get(pk=job.pk).error
    submitted = [entry for entry in fake_fal.queue.values()]
    assert len(submitted) == 2 and all(entry["model"] == settings.FAL_VIDEO_MODEL for entry in submitted)
    first = submitted[0]["arguments"]
    assert first["image_url"].startswith("data:image/jpeg;base64,") and first["aspect_ratio"] == "9:16"
    assert first["prompt"].startswith("The sea") and first["duration"] == "5"
    job.refresh_from_db()
    assert job.engine == "fal" and job.provider_job_id  # the fal request is on the job (a rerun resumes it)
    path = tmp_path / "fal.mp4"
    with Asset.objects.get(job=job, is_primary=True).file.open("rb") as handle:
        path.write_bytes(handle.read())
    probe = ffprobe(path)
    video = next(s for s in probe["streams"] if s["codec_type"] == "video")
    assert (video["width"], video["height"]) == (720, 1280)  # fal's 180×320 video, fitted to the frame
    assert float(probe["format"]["duration"]) == pytest.approx(job.result["duration_s"], abs=0.2)


def test_fal_refusing_a_scene_fails_the_film_naming_it_uncharged(user, fake_fal):
    grant(user, 10)
    before = _balance(user)
    fake_fal.script("ok", "content_policy")
    job = services.job_create(owner=JobOwner.for_user(user), kind="film", engine="fal", params=film_params(
        [{"narration": "", "visual": "One", "duration_s": 1}, {"narration": "", "visual": "Two", "duration_s": 1}]))
    assert tasks.job_run(str(job.pk)) == "failed"
    job.refresh_from_db()
    assert job.error.startswith("Scene 2: fal could not animate it") and job.credits_state == "released"
    assert _balance(user) == before


def test_fal_engine_is_offered_only_with_a_key(settings):
    from pipeline.engines import engines_for

    settings.FAL_KEY = ""
    assert engines_for("film") == ["client", "local"]
    settings.FAL_KEY = "key"
    assert engines_for("film") == ["client", "fal", "local"]
