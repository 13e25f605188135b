"""Gemini image generation ("nano_banana") against a local server that answers as the Gemini API
documents generateContent (mozukai_hub.testing.fake_providers.FakeGemini)."""

import base64
import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from mozukai_hub.testing.fake_providers import GEMINI_KEY, IMAGE_COLOR, decode_image, fake_gemini  # noqa: F401
from mozukai_hub.testing.images import png_bytes
from pipeline.models import Job
from pipeline.providers import ProviderError
from pipeline.tasks import job_run
from pipeline.tests.conftest import grant, spendable
from studio.providers.gemini import aspect_ratio_nearest, gemini_generate_image


@pytest.fixture
def uploads(tmp_path):
    selfie, ref = tmp_path / "selfie.png", tmp_path / "ref.jpg"
    selfie.write_bytes(png_bytes((300, 400), (200, 150, 120)))
    Image.new("RGB", (640, 360), (30, 60, 200)).save(ref, format="JPEG")
    return selfie, ref


@pytest.mark.parametrize(("size", "ratio"), [
    ((1280, 720), "16:9"), ((1920, 1080), "16:9"), ((1080, 1920), "9:16"), ((1080, 1080), "1:1"),
    ((1080, 1350), "4:5"), ((1200, 627), "16:9"), ((1600, 900), "16:9"), ((2400, 1000), "21:9"),
])
def test_nearest_supported_aspect_ratio(size, ratio):
    assert aspect_ratio_nearest(*size) == ratio


def test_request_as_documented_and_image_read(fake_gemini, uploads, tmp_path, settings):
    out = gemini_generate_image(prompt="a bold thumbnail", images=list(uploads), aspect_ratio="16:9",
                                out=tmp_path / "bg.png")
    with Image.open(out) as image:
        assert image.format == "PNG" and image.size == (168, 96) and image.getpixel((2, 2)) == IMAGE_COLOR
    [request] = fake_gemini.requests
    assert request["problems"] == []
    assert request["path"] == f"/v1beta/models/{settings.GEMINI_IMAGE_MODEL}:generateContent"
    assert request["headers"]["x-goog-api-key"] == GEMINI_KEY and "authorization" not in request["headers"]
    body = request["json"]
    assert body["generationConfig"] == {"responseModalities": ["TEXT", "IMAGE"], "imageConfig": {"aspectRatio": "16:9"}}
    text, selfie, ref = body["contents"][0]["parts"]
    assert text == {"text": "a bold thumbnail"}
    assert selfie["inline_data"]["mime_type"] == "image/jpeg" and ref["inline_data"]["mime_type"] == "image/jpeg"
    sent = Image.open(io.BytesIO(base64.b64decode(selfie["inline_data"]["data"])))
    assert sent.size == (300, 400) and not sent.info.get("exif")


def test_snake_case_inline_data_is_read_too(fake_gemini, tmp_path):
    fake_gemini.script("snake_case")
    out = gemini_generate_image(prompt="p", images=[], aspect_ratio="9:16", out=tmp_path / "bg.png")
    assert Image.open(out).size == (96, 168)


@pytest.mark.parametrize("mode", ["safety", "prohibited", "blocked"])
def test_a_refusal_is_safety_and_not_retried(fake_gemini, tmp_path, mode):
    fake_gemini.script(mode)
    with pytest.raises(ProviderError) as caught:
        gemini_generate_image(prompt="p", images=[], aspect_ratio="1:1", out=tmp_path / "bg.png")
    assert caught.value.error_type == "safety" and len(fake_gemini.requests) == 1
    assert not (tmp_path / "bg.png").exists()


def test_503_is_retried_then_succeeds(fake_gemini, tmp_path):
    fake_gemini.script("unavailable")
    gemini_generate_image(prompt="p", images=[], aspect_ratio="1:1", out=tmp_path / "bg.png")
    assert len(fake_gemini.requests) == 2


@pytest.mark.parametrize(("mode", "error_type"), [("malformed", "provider_output"), ("no_image", "provider_output")])
def test_unusable_answers_are_provider_output(fake_gemini, tmp_path, mode, error_type):
    fake_gemini.script(mode)
    with pytest.raises(ProviderError) as caught:
        gemini_generate_image(prompt="p", images=[], aspect_ratio="1:1", out=tmp_path / "bg.png")
    assert caught.value.error_type == error_type and len(fake_gemini.requests) == 1


def test_a_wrong_key_is_refused(fake_gemini, tmp_path, settings):
    settings.GEMINI_API_KEY = "not-the-key"
    with pytest.raises(ProviderError) as caught:
        gemini_generate_image(prompt="p", images=[], aspect_ratio="1:1", out=tmp_path / "bg.png")
    assert caught.value.error_type == "provider_rejected" and "API key not valid" in caught.value.detail


# --- the "nano_banana" thumbnail engine: whole jobs, as a user makes them (seed 000) --------

PROJECT = {"title": "Bonsai care", "mode": "design", "platform": "x", "width": 640, "height": 360,
           "headline": "Bonsai in 5 minutes", "subtext": "No garden needed", "vibe": "bold", "model_pref": "nano_banana"}


def near(colour, expected, tolerance: int = 4) -> bool:
    return max(abs(a - b) for a, b in zip(colour, expected)) <= tolerance


def _image_file(name: str, size, colour) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, png_bytes(size, colour))


@pytest.fixture
def project(auth_client, user):
    grant(user, 20)
    project = auth_client.post("/api/v1/projects", PROJECT, format="json").json()
    for role, colour in (("selfie", (200, 150, 120)), ("ref", (30, 60, 200))):
        uploaded = auth_client.post("/api/v1/assets/upload", {"file": _image_file(f"{role}.png", (120, 90), colour),
                                                              "type": role, "project_id": project["id"]},
                                    format="multipart")
        assert uploaded.status_code == 201, uploaded.content
    return project


def _job(client, project, variants: int = 2) -> str:
    created = client.post("/api/v1/jobs", {"project_id": project["id"], "quality": "std", "variants": variants,
                                           "model": "nano_banana"}, format="json")
    assert created.status_code == 201, created.content
    return created.json()["id"]


def test_unconfigured_gemini_is_a_400_and_spends_nothing(auth_client, user, project, settings):
    settings.GEMINI_API_KEY = ""
    before = spendable(user)
    response = auth_client.post("/api/v1/jobs", {"project_id": project["id"], "model": "nano_banana"}, format="json")
    assert response.status_code == 400 and response.json()["error"]["code"] == "engine_unconfigured"
    assert Job.objects.count() == 0 and spendable(user) == before


@pytest.mark.django_db(transaction=True)  # the worker's lease keeper uses its own connection
def test_nano_banana_job_draws_remotely_and_sets_the_text_locally(fake_gemini, auth_client, api_client, user, project):
    before = spendable(user)
    fake_gemini.script("unavailable")  # one 503: retried
    job_id = _job(auth_client, project)
    assert job_run(job_id) == "completed"
    done = auth_client.get(f"/api/v1/jobs/{job_id}").json()
    assert len(fake_gemini.requests) == 3 and all(r["problems"] == [] for r in fake_gemini.requests)
    for request in fake_gemini.requests[1:]:
        text, selfie, ref = request["json"]["contents"][0]["parts"]
        assert '"Bonsai in 5 minutes"' in text["text"] and "punchy saturated colours" in text["text"]
        assert "Do not draw any text" in text["text"] and "Image 1 is the person" in text["text"]
        assert near(decode_image(selfie["inline_data"]["data"]).getpixel((5, 5)), (200, 150, 120))  # (a JPEG)
        assert near(decode_image(ref["inline_data"]["data"]).getpixel((5, 5)), (30, 60, 200))
        assert request["json"]["generationConfig"]["imageConfig"] == {"aspectRatio": "16:9"}
    variants = done["result"]["variants"]
    assert [v["variant"] for v in variants] == [1, 2]
    for variant in variants:
        report = variant["report"]
        assert report["engine"] == "nano_banana" and report["backdrop"] == "remote"
        assert report["subject"] is None  # Gemini drew the person: no cut-out laid over its picture
        assert " ".join(report["headline"]["lines"]) == "BONSAI IN 5 MINUTES" and report["contrast_ratio"] >= 4.5
    assert {v["report"]["layout"]["subject_side"] for v in variants} == {"left", "right"}
    outputs = {o["id"]: o for o in done["outputs"]}
    served = api_client.get(outputs[variants[0]["png_asset_id"]]["url"])
    image = Image.open(io.BytesIO(b"".join(served.streaming_content))).convert("RGB")
    assert image.size == (640, 360)
    assert near(image.getpixel((630, 350)), IMAGE_COLOR, 40)  # variant 1: text top left; here is the picture
    assert spendable(user) == before - 2

    fake_gemini.script("safety")
    refused = _job(auth_client, project, variants=1)
    assert job_run(refused) == "failed"
    job = Job.objects.get(pk=refused)
    assert job.error_type == "safety" and job.credits_state == "released"
    assert len(fake_gemini.requests) == 4  # the refusal was not retried
    assert spendable(user) == before - 2
