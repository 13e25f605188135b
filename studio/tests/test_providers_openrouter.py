"""OpenRouter image editing (photo_style engine "openrouter") against a local server that answers
as OpenRouter documents chat completions with image output
(mozukai_hub.testing.fake_providers.FakeOpenRouter)."""

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image
from rest_framework.test import APIClient

from billing.services import credit_account_for
from mozukai_hub.testing.fake_providers import OPENROUTER_KEY, decode_data_url, fake_openrouter  # noqa: F401
from pipeline import tasks
from pipeline.models import Job
from pipeline.providers import ProviderError
from studio.providers.engines import fit_to_aspect
from studio.providers.openrouter import openrouter_style_photo
from studio.providers.prompts import PHOTO_STYLE_PROMPTS


@pytest.fixture
def photo(tmp_path):
    path = tmp_path / "photo.jpg"
    Image.new("RGB", (400, 300), (210, 180, 150)).save(path, format="JPEG")
    return path


def test_request_as_documented_and_image_read(fake_openrouter, photo, tmp_path, settings):
    out = openrouter_style_photo(source=photo, category="documentary", out=tmp_path / "styled.png")
    with Image.open(out) as image:
        assert image.format == "PNG" and image.size == (400, 300)
    [request] = fake_openrouter.requests
    assert request["problems"] == [] and request["path"] == "/api/v1/chat/completions"
    assert request["headers"]["authorization"] == f"Bearer {OPENROUTER_KEY}"
    body = request["json"]
    assert body["model"] == settings.OPENROUTER_MODEL and body["modalities"] == ["image", "text"]
    [message] = body["messages"]
    text, image = message["content"]
    assert message["role"] == "user" and text["type"] == "text" and PHOTO_STYLE_PROMPTS["documentary"] in text["text"]
    assert image["type"] == "image_url" and decode_data_url(image["image_url"]["url"]).size == (400, 300)


@pytest.mark.parametrize(("mode", "error_type"), [
    ("error_in_body", "provider_failed"), ("no_image", "provider_output"), ("content_filter", "safety"),
    ("flagged", "safety"), ("malformed", "provider_output"),
])
def test_failures_in_a_200_or_not_are_classified_and_not_retried(fake_openrouter, photo, tmp_path, mode, error_type):
    fake_openrouter.script(mode)
    with pytest.raises(ProviderError) as caught:
        openrouter_style_photo(source=photo, category="portraits", out=tmp_path / "styled.png")
    assert caught.value.error_type == error_type and len(fake_openrouter.requests) == 1


def test_503_is_retried_then_succeeds(fake_openrouter, photo, tmp_path):
    fake_openrouter.script("unavailable")
    openrouter_style_photo(source=photo, category="editorial", out=tmp_path / "styled.png")
    assert len(fake_openrouter.requests) == 2


# --- the "openrouter" photo_style engine: whole jobs through POST /api/v1/generate (seed 002) --

@pytest.fixture
def openrouter_default(settings, fake_openrouter):
    settings.PIPELINE_DEFAULT_ENGINES = {**settings.PIPELINE_DEFAULT_ENGINES, "photo_style": "openrouter"}
    return fake_openrouter


def _generate(client, category: str = "editorial"):
    buffer = io.BytesIO()
    Image.new("RGB", (320, 240), (210, 180, 150)).save(buffer, format="JPEG")
    created = client.post("/api/v1/generate", {"file": SimpleUploadedFile("me.jpg", buffer.getvalue(),
                                                                          content_type="image/jpeg"),
                                               "category": category}, format="multipart")
    assert created.status_code == 201, created.content
    return created.json()


@pytest.mark.django_db
def test_unconfigured_openrouter_as_default_is_a_400_that_spends_nothing(settings):
    settings.PIPELINE_DEFAULT_ENGINES = {**settings.PIPELINE_DEFAULT_ENGINES, "photo_style": "openrouter"}
    settings.OPENROUTER_API_KEY = ""
    buffer = io.BytesIO()
    Image.new("RGB", (32, 24)).save(buffer, format="PNG")
    response = APIClient().post("/api/v1/generate", {"file": SimpleUploadedFile("a.png", buffer.getvalue()),
                                                     "category": "portraits"}, format="multipart")
    assert response.status_code == 400 and response.json()["error"]["code"] == "engine_unconfigured"
    assert Job.objects.count() == 0 and credit_account_for(client_ip="127.0.0.1").balance == 3


@pytest.mark.django_db(transaction=True)  # the worker's lease keeper uses its own connection
def test_a_visitors_photo_is_styled_by_openrouter_and_failures_give_the_credit_back(openrouter_default):
    visitor = APIClient()
    done = _generate(visitor)
    assert tasks.job_run(done["job_id"]) == "completed"
    job = Job.objects.get(pk=done["job_id"])
    assert job.engine == "openrouter" and job.result["engine"] == "openrouter"
    [request] = openrouter_default.requests
    assert PHOTO_STYLE_PROMPTS["editorial"] in request["json"]["messages"][0]["content"][0]["text"]
    read = visitor.get(f"/api/v1/generate/{job.pk}?visitor_token={done['visitor_token']}").json()
    styled = Image.open(io.BytesIO(b"".join(visitor.get(read["outputUrl"]).streaming_content)))
    assert styled.format == "JPEG" and styled.size == (320, 240) and not styled.info.get("exif")
    assert styled.getpixel((160, 120))[1] > styled.getpixel((160, 120))[0]  # the fake's green tint: its image
    assert credit_account_for(client_ip="127.0.0.1").balance == 2

    for mode, error_type in (("error_in_body", "provider_failed"), ("no_image", "provider_output")):
        openrouter_default.script(mode)
        failed = _generate(visitor, "portraits")
        assert credit_account_for(client_ip="127.0.0.1").balance == 1  # held
        assert tasks.job_run(failed["job_id"]) == "failed"
        job = Job.objects.get(pk=failed["job_id"])
        assert job.error_type == error_type and job.credits_state == "released"
        assert credit_account_for(client_ip="127.0.0.1").balance == 2  # given back
        read = visitor.get(f"/api/v1/generate/{job.pk}?visitor_token={failed['visitor_token']}").json()
        assert read["status"] == "failed" and read["outputUrl"] is None and read["error"]
    assert len(openrouter_default.requests) == 3  # failures in a 200 are not retried


def test_fit_to_aspect_crops_to_the_photo_and_caps_the_size():
    assert fit_to_aspect(Image.new("RGB", (1024, 1024)), (400, 300)).size == (1024, 768)
    assert fit_to_aspect(Image.new("RGB", (3000, 2000)), (3000, 2000)).size == (2048, 1365)
    assert fit_to_aspect(Image.new("RGB", (896, 1152)), (1080, 1920)).size == (648, 1152)
