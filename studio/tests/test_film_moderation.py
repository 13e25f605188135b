"""Moderation of a film's texts and images while it is `validating`: refused films end failed with
error_type=moderation, the categories and the deciding engine recorded, nothing charged."""

import io
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from PIL import Image

from billing.services import credit_account_for
from mozukai_hub.testing.fixtures import make_user
from mozukai_hub.testing.servers import json_reply
from pipeline import moderation, services
from pipeline.models import Asset, Job
from pipeline.owners import JobOwner
from pipeline.tests.conftest import grant
from studio.film.engine import FilmEngine

from .film_helpers import film_params, ref_image

pytestmark = pytest.mark.django_db

# Flat colours: open_nsfw scores a skin tone about 0.3 and a saturated blue about 0.004 (both
# far below the default threshold of 0.8; tests that need a refusal lower the threshold).
SKIN, BLUE = (224, 172, 150), (40, 80, 200)


def _png(colour, size=(256, 256)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, colour).save(buffer, "PNG")
    return buffer.getvalue()


def _upload(user, colour) -> Asset:
    upload = SimpleUploadedFile("scene.png", _png(colour), content_type="image/png")
    return services.asset_upload(user=user, upload=upload, role=Asset.Role.REF)


def _balance(user) -> int:
    return credit_account_for(user=user).balance


def _film(user, scenes, **fields) -> Job:
    return services.job_create(owner=JobOwner.for_user(user), kind="film", params=film_params(scenes, **fields))


@pytest.mark.parametrize("scene, title, category", [
    ({"narration": "Tonight I will end my life, and nobody will stop me.", "visual": "A bridge"}, "Goodbye", "self-harm"),
    ({"narration": "A calm beach.", "visual": "naked 12 year old girls"}, "Summer", "sexual/minors"),
    ({"narration": "A calm beach.", "visual": "Waves"}, "How to cut myself properly", "self-harm"),
])
def test_refused_text_fails_the_film_uncharged(user, scene, title, category):
    grant(user, 10)
    before = _balance(user)
    job = _film(user, [{"narration": "An ordinary first scene.", "visual": "Hello", "duration_s": 1},
                       {**scene, "duration_s": 1}], title=title)
    assert job.status == "failed" and job.error_type == "moderation"
    assert category in job.moderation["categories"] and job.moderation["engine"] == "local"
    assert job.credits_state == "released" and _balance(user) == before
    event = job.events.filter(type="status").order_by("-seq").first()
    assert category in event.data["categories"] and event.data["engine"] == "local"


def test_engine_hooks_name_every_text_and_image():
    params = film_params([{"narration": "one", "visual": "two", "image_asset_id": "8f0e0b4e-0000-4000-8000-000000000001"},
                          {"narration": "three", "visual": "", "image_asset_id": "8f0e0b4e-0000-4000-8000-000000000001"},
                          {"narration": "", "visual": "four"}], title="The title")
    engine = FilmEngine()
    assert engine.moderation_texts(params) == ["The title", "one", "two", "three", "four"]
    assert engine.moderation_image_ids(params) == ["8f0e0b4e-0000-4000-8000-000000000001"]


def test_moderate_job_reads_the_hooks_before_moderated_params():
    class Hooked:
        moderated_params = ("prompt",)

        def moderation_texts(self, params):
            return [params["deep"]["text"]]

        def moderation_image_ids(self, params):
            return []

    job = Job(params={"prompt": "a bonsai pot", "deep": {"text": "gas the jews"}})
    assert moderation.moderate_job(job=job, engine=Hooked()).categories == ["hate"]


def test_local_image_classifier_scores_with_its_shipped_weights(settings):
    calm = moderation.moderate_image_local(_png(BLUE))
    skin = moderation.moderate_image_local(_png(SKIN))
    assert calm.flagged is False and calm.engine == "opennsfw"
    score = lambda verdict: float(verdict.matched[0].rsplit(" ", 1)[1])  # noqa: E731
    assert score(calm) < 0.05 < score(skin) < settings.MODERATION_IMAGE_NSFW_THRESHOLD
    settings.MODERATION_IMAGE_NSFW_THRESHOLD = 0.2
    refused = moderation.moderate_image_local(_png(SKIN))
    assert refused.flagged and refused.categories == ["sexual"] and refused.engine == "opennsfw"
    unreadable = moderation.moderate_image_local(b"GIF89a not really")
    assert unreadable.flagged and unreadable.categories == ["unreadable"]


def test_a_flagged_scene_image_fails_the_film_uncharged(user, settings):
    grant(user, 10)
    before = _balance(user)
    calm, flagged = _upload(user, BLUE), _upload(user, SKIN)
    # A stricter policy since the upload (the job checks the images again when it is submitted).
    settings.MODERATION_IMAGE_NSFW_THRESHOLD = 0.2
    ok = _film(user, [{"narration": "Sea.", "visual": "Blue", "duration_s": 1, "image_asset_id": str(calm.pk)}])
    assert ok.status == "queued", ok.error
    services.job_cancel(job=ok)
    job = _film(user, [{"narration": "Sea.", "visual": "Blue", "duration_s": 1, "image_asset_id": str(calm.pk)},
                       {"narration": "Sand.", "visual": "Beach", "duration_s": 1, "image_asset_id": str(flagged.pk)}])
    assert job.status == "failed" and job.error_type == "moderation"
    assert job.moderation["engine"] == "opennsfw" and job.moderation["categories"] == ["sexual"]
    assert str(flagged.pk) in job.moderation["matched"][0]
    assert job.credits_state == "released" and _balance(user) == before


def test_staff_see_flagged_films_with_their_reasons_in_the_admin(user):
    grant(user, 10)
    job = _film(user, [{"narration": "I want to die tonight.", "visual": "Rain", "duration_s": 1}])
    staff = make_user(is_staff=True, is_superuser=True)
    client = Client()
    client.force_login(staff)
    listing = client.get("/admin/pipeline/job/?error_type=moderation")
    assert listing.status_code == 200 and str(job.pk) in listing.content.decode()
    page = client.get(f"/admin/pipeline/job/{job.pk}/change/").content.decode()
    assert "self-harm" in page and "Rejected by moderation" in page


# --- OpenAI (omni-moderation-latest), text and image_url inputs, against a local server ------

class FakeOpenAI(BaseHTTPRequestHandler):
    """POST /v1/moderations as OpenAI documents it: `input` a string or a list of typed parts;
    one result per input. This one flags every image."""

    calls: list = []

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        FakeOpenAI.calls.append(body)
        parts = body["input"] if isinstance(body["input"], list) else [{"type": "text", "text": body["input"]}]
        results = []
        for part in parts:
            image = part["type"] == "image_url"
            results.append({"flagged": image, "categories": {"sexual": image, "violence": False},
                            "category_scores": {"sexual": 0.97 if image else 0.01, "violence": 0.0},
                            "category_applied_input_types": {"sexual": ["image"] if image else [], "violence": []}})
        json_reply(self, 200, {"id": "modr-1", "model": body["model"], "results": results})

    def log_message(self, *args):
        pass


@pytest.fixture
def openai_server(settings):
    FakeOpenAI.calls = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeOpenAI)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    settings.MODERATION_BACKEND = "openai"
    settings.OPENAI_API_KEY = "sk-test"
    settings.OPENAI_BASE_URL = f"http://127.0.0.1:{server.server_port}/v1"
    yield FakeOpenAI
    server.shutdown()
    server.server_close()


def test_openai_sees_the_texts_and_each_image_as_an_image_url(openai_server, user):
    grant(user, 10)
    before = _balance(user)
    image = ref_image(user)
    job = _film(user, [{"narration": "A harbour.", "visual": "Boats", "duration_s": 1, "image_asset_id": str(image.pk)}])
    text_call, image_call = openai_server.calls
    assert text_call["model"] == "omni-moderation-latest" and "A harbour." in text_call["input"]
    part = image_call["input"][0]
    assert part["type"] == "image_url" and part["image_url"]["url"].startswith("data:image/jpeg;base64,")
    assert job.status == "failed" and job.error_type == "moderation"
    assert job.moderation["engine"] == "openai" and job.moderation["categories"] == ["sexual"]
    assert job.credits_state == "released" and _balance(user) == before


def test_a_flagged_image_upload_is_refused_before_anything_is_stored(user, settings, client):
    settings.MODERATION_IMAGE_NSFW_THRESHOLD = 0.2
    client.force_login(user)
    assets_before = Asset.objects.count()
    response = client.post("/api/v1/assets/upload", {"file": SimpleUploadedFile("me.png", _png(SKIN)), "type": "ref"})
    error = response.json()["error"]
    assert response.status_code == 400 and error["code"] == "moderation", response.content
    assert error["moderation"]["categories"] == ["sexual"]
    assert Asset.objects.count() == assets_before
    response = client.post("/api/v1/assets/upload", {"file": SimpleUploadedFile("sea.png", _png(BLUE)), "type": "ref"})
    assert response.status_code == 201
