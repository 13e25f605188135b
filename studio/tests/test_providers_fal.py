"""fal's queue API (`fal_queue_run`) and the "fal" thumbnail engine, against a local server that
answers as fal documents its queue (mozukai_hub.testing.fake_providers.FakeFal)."""

import threading
import uuid

import httpx
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from mozukai_hub.testing.fake_providers import FAL_KEY, decode_data_url, fake_fal  # noqa: F401 (fixture)
from mozukai_hub.testing.images import png_bytes
from mozukai_hub.testing.polling import wait_until
from pipeline import services
from pipeline.engines import EngineError
from pipeline.models import Job
from pipeline.providers import ProviderError
from pipeline.runner import JobContext
from pipeline.tasks import job_run
from pipeline.tests.conftest import grant, spendable
from studio.providers.engines import fal_image_size
from studio.providers.fal import fal_app_id, fal_call_digest, fal_image_urls, fal_queue_run, fal_video_url

MODEL = "fal-ai/flux/dev"
VIDEO_MODEL = "fal-ai/kling-video/v2.1/standard/image-to-video"
ARGUMENTS = {"prompt": "a bonsai on a desk, soft light", "image_size": {"width": 640, "height": 360}, "num_images": 2,
             "seed": 7, "enable_safety_checker": True}


@pytest.fixture
def claimed():
    """A real job (an anonymous visitor's), claimed as a worker claims it, and a function that
    opens its JobContext (each test is marked django_db)."""
    job = Job.objects.create(visitor_ip="127.0.0.1", visitor_token_hash="0" * 64, kind="film", engine="local",
                             status=Job.Status.QUEUED, params={})

    def open_context() -> JobContext:
        token = uuid.uuid4()
        claimed_job = services.job_claim(job_id=job.pk, lease_token=token)
        assert claimed_job is not None
        return JobContext(claimed_job, token)

    return job, open_context


def test_app_id_drops_the_endpoint_path():
    assert fal_app_id("fal-ai/flux/dev/image-to-image") == "fal-ai/flux"
    assert fal_app_id("/fal-ai/fast-sdxl") == "fal-ai/fast-sdxl"
    assert fal_call_digest(MODEL, {"a": 1, "b": 2}) == fal_call_digest(MODEL, {"b": 2, "a": 1})
    assert fal_call_digest(MODEL, {"a": 1}) != fal_call_digest(VIDEO_MODEL, {"a": 1})


@pytest.mark.django_db
def test_queue_run_submits_polls_and_fetches(fake_fal, claimed):
    job, open_context = claimed
    with open_context() as ctx:  # (the context closes the connection as it ends: read the job in it)
        result = fal_queue_run(ctx, model=MODEL, arguments=ARGUMENTS)
        stored = Job.objects.get(pk=job.pk).provider_job_id
    urls = fal_image_urls(result)
    assert len(urls) == 2 and all(url.startswith(fake_fal.files_url) for url in urls)
    submit = fake_fal.requests[0]
    assert (submit["method"], submit["path"], submit["json"]) == ("POST", f"/{MODEL}", ARGUMENTS)
    assert all(r["headers"]["authorization"] == f"Key {FAL_KEY}" for r in fake_fal.requests)
    request_id = next(iter(fake_fal.queue))
    polls = fake_fal.calls("GET", f"/fal-ai/flux/requests/{request_id}/status")
    assert len(polls) == 3  # IN_QUEUE, IN_PROGRESS, COMPLETED
    assert [r["path"] for r in fake_fal.calls("GET")][-1] == f"/fal-ai/flux/requests/{request_id}"
    assert stored == f"{request_id}#{fal_call_digest(MODEL, ARGUMENTS)}"


@pytest.mark.django_db
def test_video_model_and_a_503_on_status_is_retried(fake_fal, claimed):
    _, open_context = claimed
    fake_fal.script("status_unavailable")
    arguments = {"prompt": "slow push in", "image_url": "https://example.test/scene.png", "duration": "1",
                 "aspect_ratio": "16:9"}
    with open_context() as ctx:
        result = fal_queue_run(ctx, model=VIDEO_MODEL, arguments=arguments)
    assert fal_video_url(result).endswith(".mp4")
    entry = next(iter(fake_fal.queue.values()))
    assert entry["app"] == "fal-ai/kling-video" and entry["polls"] == 4  # one 503, then the script of three


@pytest.mark.django_db
def test_rerun_resumes_the_stored_request_for_the_same_call(fake_fal, claimed):
    job, open_context = claimed
    answer = httpx.post(f"{fake_fal.base_url}/{MODEL}", json=ARGUMENTS, headers={"Authorization": f"Key {FAL_KEY}"})
    request_id = answer.json()["request_id"]  # submitted by a worker that died while waiting
    Job.objects.filter(pk=job.pk).update(provider_job_id=f"{request_id}#{fal_call_digest(MODEL, ARGUMENTS)}")
    with open_context() as ctx:
        result = fal_queue_run(ctx, model=MODEL, arguments=ARGUMENTS)
    assert len(fake_fal.calls("POST")) == 1  # resumed: never submitted (and paid) twice
    assert len(fal_image_urls(result)) == 2 and fake_fal.queue[request_id]["polls"] == 3


@pytest.mark.django_db(transaction=True)  # the first worker runs in another thread
def test_a_worker_that_lost_its_lease_does_not_cancel_the_request_its_successor_resumes(fake_fal, claimed):
    job, open_context = claimed
    fake_fal.status_script = ["IN_PROGRESS"]
    first = threading.Thread(target=_run_until_aborted, args=(open_context, MODEL, ARGUMENTS))
    first.start()
    wait_until(lambda: Job.objects.get(pk=job.pk).provider_job_id, 10)
    # Another worker takes the job over (as `job_claim` does once a hung worker's lease expired).
    successor = uuid.uuid4()
    Job.objects.filter(pk=job.pk).update(lease_token=successor)
    with JobContext(Job.objects.get(pk=job.pk), successor) as ctx:
        first.join(timeout=10)
        assert not first.is_alive()
        fake_fal.status_script = ["COMPLETED"]
        result = fal_queue_run(ctx, model=MODEL, arguments=ARGUMENTS)
    assert len(fake_fal.calls("POST")) == 1 and not fake_fal.calls("PUT")
    assert not next(iter(fake_fal.queue.values()))["cancelled"] and len(fal_image_urls(result)) == 2


@pytest.mark.django_db
def test_a_stored_request_of_another_call_is_not_resumed(fake_fal, claimed):
    job, open_context = claimed
    Job.objects.filter(pk=job.pk).update(provider_job_id=f"{uuid.uuid4()}#{fal_call_digest(MODEL, {'prompt': 'scene 1'})}")
    with open_context() as ctx:
        fal_queue_run(ctx, model=MODEL, arguments={"prompt": "scene 2"})
    assert [r["json"] for r in fake_fal.calls("POST")] == [{"prompt": "scene 2"}]


@pytest.mark.django_db
def test_a_stored_request_fal_no_longer_knows_is_submitted_again(fake_fal, claimed):
    job, open_context = claimed
    Job.objects.filter(pk=job.pk).update(provider_job_id=f"gone-1#{fal_call_digest(MODEL, ARGUMENTS)}")
    with open_context() as ctx:
        fal_queue_run(ctx, model=MODEL, arguments=ARGUMENTS)
    assert fake_fal.calls("GET", "/fal-ai/flux/requests/gone-1/status") and len(fake_fal.calls("POST")) == 1


def _run_until_aborted(open_context, model, arguments):
    with open_context() as ctx:
        try:
            fal_queue_run(ctx, model=model, arguments=arguments)
        except services.JobAborted:
            pass


@pytest.mark.django_db
def test_failures_are_classified(fake_fal, claimed):
    _, open_context = claimed
    expected = {"content_policy": "safety", "failed": "provider_failed", "nsfw": "safety", "malformed": "provider_output"}
    with open_context() as ctx:
        for mode, error_type in expected.items():
            fake_fal.script(mode)
            with pytest.raises((ProviderError, EngineError)) as caught:
                fal_image_urls(fal_queue_run(ctx, model=MODEL, arguments={"prompt": mode}))
            assert caught.value.error_type == error_type, mode
    assert len(fake_fal.calls("POST")) == len(expected)  # none resubmitted


@pytest.mark.django_db
def test_a_503_on_submit_is_not_resubmitted(fake_fal, claimed):
    job, open_context = claimed
    fake_fal.script("submit_unavailable")
    with open_context() as ctx:
        with pytest.raises(ProviderError) as caught:
            fal_queue_run(ctx, model=MODEL, arguments=ARGUMENTS)
        assert Job.objects.get(pk=job.pk).provider_job_id == ""
    assert caught.value.error_type == "provider_unavailable" and len(fake_fal.calls("POST")) == 1


@pytest.mark.django_db
def test_a_wrong_key_is_provider_auth(fake_fal, claimed, settings):
    _, open_context = claimed
    settings.FAL_KEY = "wrong"
    with open_context() as ctx, pytest.raises(ProviderError) as caught:
        fal_queue_run(ctx, model=MODEL, arguments=ARGUMENTS)
    assert caught.value.error_type == "provider_auth"


@pytest.mark.django_db
def test_a_request_that_never_finishes_times_out_and_is_cancelled(fake_fal, claimed):
    _, open_context = claimed
    fake_fal.script("never")
    with open_context() as ctx, pytest.raises(EngineError) as caught:
        fal_queue_run(ctx, model=MODEL, arguments=ARGUMENTS, timeout_seconds=0.3)
    assert caught.value.error_type == "timeout"
    assert next(iter(fake_fal.queue.values()))["cancelled"] is True


# --- the "fal" thumbnail engine: whole jobs, as a user makes them (seed 000) ----------------

PROJECT = {"title": "Bonsai care", "mode": "design", "platform": "x", "width": 640, "height": 360,
           "headline": "Bonsai in 5 minutes", "subtext": "", "vibe": "dramatic", "model_pref": "fal"}


def test_image_size_keeps_the_aspect_in_steps_of_16():
    assert fal_image_size(640, 360) == {"width": 640, "height": 352}
    assert fal_image_size(4096, 2304) == {"width": 2048, "height": 1152}
    assert fal_image_size(1080, 1920) == {"width": 1088, "height": 1920}


@pytest.mark.django_db(transaction=True)  # the worker's lease keeper uses its own connection
def test_fal_job_makes_the_backdrop_and_the_selfie_is_cut_out_locally(fake_fal, auth_client, user, settings):
    grant(user, 10)
    project = auth_client.post("/api/v1/projects", PROJECT, format="json").json()
    for role, colour in (("selfie", (200, 150, 120)), ("ref", (30, 60, 200))):
        uploaded = auth_client.post("/api/v1/assets/upload", {
            "file": SimpleUploadedFile(f"{role}.png", png_bytes((120, 90), colour)), "type": role,
            "project_id": project["id"]}, format="multipart")
        assert uploaded.status_code == 201, uploaded.content
    before = spendable(user)

    def job(variants: int) -> str:
        created = auth_client.post("/api/v1/jobs", {"project_id": project["id"], "variants": variants, "model": "fal"},
                                   format="json")
        assert created.status_code == 201, created.content
        return created.json()["id"]

    done = job(2)
    assert job_run(done) == "completed"
    submits = fake_fal.calls("POST")  # one request per variant: each variant's prompt follows its layout
    assert [s["path"] for s in submits] == [f"/{settings.FAL_IMAGE_TO_IMAGE_MODEL}"] * 2
    for submit in submits:
        arguments = submit["json"]
        assert submit["problems"] == [] and decode_data_url(arguments["image_url"]).size == (120, 90)  # the reference
        assert arguments["strength"] == 0.85 and arguments["enable_safety_checker"] is True
        assert '"Bonsai in 5 minutes"' in arguments["prompt"] and "free of people" in arguments["prompt"]
    assert submits[0]["json"]["seed"] != submits[1]["json"]["seed"]
    assert len(fake_fal.file_requests) == 2 and all("authorization" not in f["headers"] for f in fake_fal.file_requests)
    job_row = Job.objects.get(pk=done)
    assert job_row.provider_job_id.split("#")[0] in fake_fal.queue
    for variant in job_row.result["variants"]:
        assert variant["report"]["backdrop"] == "remote" and variant["report"]["subject"]  # the local cut-out
    assert spendable(user) == before - 2

    fake_fal.script("nsfw")
    refused = job(1)
    assert job_run(refused) == "failed"
    assert Job.objects.get(pk=refused).error_type == "safety" and spendable(user) == before - 2


@pytest.mark.django_db(transaction=True)  # the job runs in another thread
def test_cancelling_a_fal_job_cancels_its_request_and_returns_the_credits(fake_fal, auth_client, user):
    grant(user, 5)
    before = spendable(user)
    project = auth_client.post("/api/v1/projects", {**PROJECT, "vibe": "tech"}, format="json").json()
    fake_fal.script("never")
    created = auth_client.post("/api/v1/jobs", {"project_id": project["id"], "model": "fal"}, format="json")
    job_id = created.json()["id"]
    worker = threading.Thread(target=job_run, args=(job_id,))
    worker.start()
    wait_until(lambda: Job.objects.get(pk=job_id).provider_job_id, 10)
    assert auth_client.post(f"/api/v1/jobs/{job_id}/cancel").status_code == 200
    worker.join(timeout=10)
    assert not worker.is_alive()
    [(request_id, entry)] = fake_fal.queue.items()
    [cancel] = fake_fal.calls("PUT")
    assert entry["cancelled"] and cancel["path"] == f"/fal-ai/flux/requests/{request_id}/cancel"
    assert cancel["headers"]["authorization"] == f"Key {FAL_KEY}"
    assert Job.objects.get(pk=job_id).status == "cancelled" and spendable(user) == before
