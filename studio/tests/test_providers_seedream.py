"""Seedream ("bytedance") against a local server that answers as BytePlus ModelArk documents
images/generations (mozukai_hub.testing.fake_providers.FakeSeedream)."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from mozukai_hub.testing.fake_providers import IMAGE_COLOR, SEEDREAM_KEY, decode_data_url, fake_seedream  # noqa: F401
from mozukai_hub.testing.images import png_bytes
from pipeline.models import Asset, Job
from pipeline.providers import ProviderError
from pipeline.tasks import job_run
from pipeline.tests.conftest import grant, spendable
from studio.providers.seedream import seedream_generate_image, seedream_size


@pytest.mark.parametrize(("size", "model", "expected"), [
    ((1280, 720), "seedream-4-0-250828", "1376x768"),  # scaled up into 4.0's range, 16:9 kept
    ((1920, 1080), "seedream-4-0-250828", "1920x1088"),
    ((1080, 1920), "seedream-4-5-251128", "1440x2560"),
    ((1200, 627), "seedream-4-0-250828", "1424x752"),
    ((4096, 4096), "seedream-3-0-t2i-250415", "2048x2048"),
])
def test_size_fits_the_model(size, model, expected):
    assert seedream_size(*size, model) == expected
    width, height = (int(v) for v in expected.split("x"))
    assert abs(width / height - size[0] / size[1]) / (size[0] / size[1]) < 0.02


def test_request_as_documented_and_url_downloaded_at_once(fake_seedream, tmp_path, settings):
    selfie = tmp_path / "selfie.png"
    selfie.write_bytes(png_bytes((300, 400), (200, 150, 120)))
    out = seedream_generate_image(prompt="a bold thumbnail", images=[selfie], width=1280, height=720,
                                  out=tmp_path / "bg.png")
    with Image.open(out) as image:
        assert image.format == "PNG" and image.size == (172, 96) and image.getpixel((2, 2)) == IMAGE_COLOR
    [request] = fake_seedream.requests
    assert request["problems"] == [] and request["path"] == "/api/v3/images/generations"
    assert request["headers"]["authorization"] == f"Bearer {SEEDREAM_KEY}"
    body = request["json"]
    assert {k: body[k] for k in ("model", "prompt", "size", "response_format", "watermark")} == {
        "model": settings.SEEDREAM_MODEL, "prompt": "a bold thumbnail", "size": "1376x768", "response_format": "url",
        "watermark": False}
    assert decode_data_url(body["image"][0]).size == (300, 400)
    [download] = fake_seedream.file_requests
    assert "authorization" not in download["headers"]  # the storage URL is another origin: no key sent there


@pytest.mark.parametrize("mode", ["sensitive_input", "sensitive_output", "item_error"])
def test_sensitive_content_is_safety_and_not_retried(fake_seedream, tmp_path, mode):
    fake_seedream.script(mode)
    with pytest.raises(ProviderError) as caught:
        seedream_generate_image(prompt="p", images=[], width=1280, height=720, out=tmp_path / "bg.png")
    assert caught.value.error_type == "safety" and len(fake_seedream.requests) == 1


def test_503_is_retried_then_succeeds(fake_seedream, tmp_path):
    fake_seedream.script("unavailable")
    seedream_generate_image(prompt="p", images=[], width=1080, height=1080, out=tmp_path / "bg.png")
    assert len(fake_seedream.requests) == 2


@pytest.mark.parametrize("mode", ["malformed", "expired"])
def test_unusable_answers_are_provider_output(fake_seedream, tmp_path, mode):
    fake_seedream.script(mode)
    with pytest.raises(ProviderError) as caught:
        seedream_generate_image(prompt="p", images=[], width=1280, height=720, out=tmp_path / "bg.png")
    assert caught.value.error_type == "provider_output" and len(fake_seedream.requests) == 1


def test_a_wrong_key_is_provider_auth(fake_seedream, tmp_path, settings):
    settings.SEEDREAM_API_KEY = "nope"
    with pytest.raises(ProviderError) as caught:
        seedream_generate_image(prompt="p", images=[], width=1280, height=720, out=tmp_path / "bg.png")
    assert caught.value.error_type == "provider_auth"


# --- the "bytedance" thumbnail engine: whole jobs, as a user makes them (seed 000) ----------

PROJECT = {"title": "Desk setup", "mode": "design", "platform": "instagram_square", "width": 540, "height": 540,
           "headline": "My desk setup", "subtext": "", "vibe": "minimal", "model_pref": "bytedance"}


@pytest.mark.django_db(transaction=True)  # the worker's lease keeper uses its own connection
def test_bytedance_job_uses_the_downloaded_picture_and_a_refusal_costs_nothing(fake_seedream, auth_client, user):
    grant(user, 10)
    project = auth_client.post("/api/v1/projects", PROJECT, format="json").json()
    uploaded = auth_client.post("/api/v1/assets/upload", {
        "file": SimpleUploadedFile("selfie.png", png_bytes((90, 120), (200, 150, 120))), "type": "selfie",
        "project_id": project["id"]}, format="multipart")
    assert uploaded.status_code == 201, uploaded.content
    before = spendable(user)

    def job(variants: int) -> str:
        created = auth_client.post("/api/v1/jobs", {"project_id": project["id"], "variants": variants,
                                                    "model": "bytedance"}, format="json")
        assert created.status_code == 201, created.content
        return created.json()["id"]

    done = job(1)
    assert job_run(done) == "completed"
    [request] = fake_seedream.requests
    body = request["json"]
    assert request["problems"] == [] and body["size"] == "1024x1024" and len(body["image"]) == 1
    assert '"My desk setup"' in body["prompt"] and "Image 1 is the person" in body["prompt"]
    assert len(fake_seedream.file_requests) == 1  # the image URL was fetched at once
    [variant] = Job.objects.get(pk=done).result["variants"]
    assert variant["report"]["backdrop"] == "remote" and variant["report"]["subject"] is None
    assert spendable(user) == before - 1

    fake_seedream.script("sensitive_output")
    refused = job(2)
    assert job_run(refused) == "failed"
    failed = Job.objects.get(pk=refused)
    assert failed.error_type == "safety" and "OutputImageSensitiveContentDetected" in failed.error
    assert len(fake_seedream.requests) == 2 and spendable(user) == before - 1
    assert not Asset.objects.filter(job=failed).exists()
