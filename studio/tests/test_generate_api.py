"""The photo generator's API (seed 002): anonymous visitors style photos on their address's free
credits, read their jobs with their token, are refused a fourth with a 402 that says how to buy
more; bad requests are 400s that store and spend nothing."""

import io
import uuid
from pathlib import Path

import numpy as np
import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image
from rest_framework.test import APIClient

from billing.services import credit_account_for, credits_grant
from mozukai_hub.testing.fixtures import bearer_client
from pipeline import tasks
from pipeline.models import Asset, Job, JobInput

from .generate_photos import jpeg_with_exif, png_header_only, portrait

pytestmark = pytest.mark.django_db
VISITOR_IP = "127.0.0.1"  # REMOTE_ADDR of the test client
OTHER_VISITOR_IP = "203.0.113.77"


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")


@pytest.fixture(scope="module")
def photo_bytes() -> bytes:
    return jpeg_with_exif(portrait(480, 640), orientation=1)


def _upload(data: bytes, name: str = "me.jpg", content_type: str = "image/jpeg") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data, content_type=content_type)


def _post(client, data: bytes, category: str = "portraits", field: str = "file", **extra):
    return client.post("/api/v1/generate", {field: _upload(data), "category": category, **extra}, format="multipart")


def _free(ip: str = VISITOR_IP) -> int:
    return credit_account_for(client_ip=ip).balance


def _stored_files(settings) -> list[Path]:
    root = Path(settings.MEDIA_ROOT)
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


def _token(answer) -> dict:
    return {"HTTP_X_VISITOR_TOKEN": answer.json()["visitor_token"]}


@pytest.mark.django_db(transaction=True)
def test_a_visitor_generates_a_styled_photo_and_reads_it_with_its_token(photo_bytes, settings):
    visitor = APIClient()
    created = _post(visitor, photo_bytes, "Documentary", field="image")
    assert created.status_code == 201, created.content
    body = created.json()
    assert set(body) >= {"job_id", "status", "visitor_token"}  # seed 002's JobCreateResponse, plus the token
    assert body["status"] == "queued" and body["category"] == "documentary" and body["cost_credits"] == 1
    assert _free() == 2  # held at once from the address's 3 free credits

    job = Job.objects.get(pk=body["job_id"])
    assert (job.kind, job.engine, job.owner_id, job.visitor_ip) == ("photo_style", "local", None, VISITOR_IP)
    photo = Asset.objects.get(job=job, role=Asset.Role.PHOTO)
    assert photo.owner_id is None and job.params == {"category": "documentary", "photo_asset_id": str(photo.pk)}
    assert list(JobInput.objects.filter(job=job).values_list("asset_id", flat=True)) == [photo.pk]

    waiting = visitor.get(f"/api/v1/generate/{job.pk}", **_token(created))
    assert waiting.status_code == 200
    assert waiting.json()["status"] == "queued" and waiting.json()["outputUrl"] is None and waiting.json()["error"] is None

    assert tasks.job_run(job.pk) == "completed", Job.objects.get(pk=job.pk).error
    done = visitor.get(f"/api/v1/generate/{job.pk}?visitor_token={body['visitor_token']}")
    assert done.status_code == 200, done.content
    status = done.json()
    assert {"status", "outputUrl", "output_url", "error"} <= set(status)  # seed 002's JobStatusResponse names
    assert status["status"] == "completed" and status["error"] is None and status["progress"] == 100
    assert status["outputUrl"] == status["output_url"] and status["outputUrl"].startswith("http://testserver/api/v1/downloads/")
    download = APIClient().get(status["outputUrl"])  # a signed link: no credential needed
    assert download.status_code == 200 and download["Content-Type"] == "image/jpeg"
    styled = Image.open(io.BytesIO(b"".join(download.streaming_content)))
    assert styled.format == "JPEG" and styled.size == (480, 640)
    assert not styled.getexif()  # no orientation, camera or GPS left
    pixels = np.asarray(styled.convert("RGB"), dtype=np.int16)
    assert int((pixels.max(axis=2) - pixels.min(axis=2)).max()) <= 12  # black and white (JPEG noise aside)
    assert Job.objects.get(pk=job.pk).credits_state == "settled" and _free() == 2


def test_nobody_else_reads_a_visitors_photo_job(photo_bytes, user, other_user):
    created = _post(APIClient(), photo_bytes)
    job_id = created.json()["job_id"]
    other_visitor = APIClient(REMOTE_ADDR=OTHER_VISITOR_IP)
    other = _post(other_visitor, photo_bytes, "editorial")
    assert other.status_code == 201
    missing = APIClient().get(f"/api/v1/generate/{uuid.uuid4()}", **_token(created))
    assert missing.status_code == 404
    for client, headers in [
        (APIClient(), {}),  # no token
        (APIClient(), {"HTTP_X_VISITOR_TOKEN": "guess"}),
        (other_visitor, _token(other)),  # another visitor's token
        (bearer_client(other_user), {}),  # a signed-in stranger
    ]:
        answer = client.get(f"/api/v1/generate/{job_id}", **headers)
        assert answer.status_code == 404, answer.content
        assert answer.json()["error"]["code"] == missing.json()["error"]["code"] == "not_found"
    # The token reads only photo jobs through this route.
    mine = bearer_client(user).post("/api/v1/jobs", {"kind": "scad_render", "params": {"scad": "cube(1);"}, "start": False},
                                    format="json")
    assert bearer_client(user).get(f"/api/v1/generate/{mine.json()['id']}").status_code == 404


def test_three_free_photos_then_a_402_that_says_how_to_buy_a_pack(photo_bytes, settings):
    settings.PIPELINE_MAX_JOBS_IN_FLIGHT = 10
    visitor = APIClient()
    for category in ("portraits", "editorial", "documentary"):
        assert _post(visitor, photo_bytes, category).status_code == 201
    assert _free() == 0
    jobs, assets, files = Job.objects.count(), Asset.objects.count(), _stored_files(settings)

    refused = _post(visitor, photo_bytes, "portraits")
    assert refused.status_code == 402, refused.content
    error = refused.json()["error"]
    assert error["code"] == "insufficient_credits"
    assert "3 free credits" in error["message"] and "credit pack" in error["message"] and "/credits/" in error["message"]
    assert error["buy_url"] == "/credits/" and error["packs"] == [5, 10, 20]
    assert (Job.objects.count(), Asset.objects.count(), _stored_files(settings)) == (jobs, assets, files)
    # Another address still has its own free credits.
    assert _post(APIClient(REMOTE_ADDR=OTHER_VISITOR_IP), photo_bytes).status_code == 201


@pytest.mark.django_db(transaction=True)
def test_a_job_that_fails_gives_its_credit_back(photo_bytes):
    visitor = APIClient()
    created = _post(visitor, photo_bytes)
    assert _free() == 2
    Asset.objects.filter(job_id=created.json()["job_id"], role=Asset.Role.PHOTO).delete()  # gone before the run
    assert tasks.job_run(created.json()["job_id"]) == "failed"
    status = visitor.get(f"/api/v1/generate/{created.json()['job_id']}", **_token(created)).json()
    assert status["status"] == "failed" and status["outputUrl"] is None and "deleted" in status["error"]
    assert status["error_type"] == "input_unavailable"
    assert _free() == 3


def _mesh() -> bytes:
    return (b"solid cube\nfacet normal 0 0 1\nouter loop\nvertex 0 0 0\nvertex 1 0 0\nvertex 0 1 0\n"
            b"endloop\nendfacet\nendsolid cube\n")


@pytest.mark.parametrize("case", ["text", "mesh", "truncated", "oversized", "bomb", "too_many_pixels", "category",
                                  "no_file", "two_files", "unknown_field", "engine"])
def test_bad_requests_are_400s_that_store_and_spend_nothing(case, photo_bytes, settings):
    visitor = APIClient()
    _free()  # the address's account exists, with its 3 free credits
    data, category, extra, field = photo_bytes, "portraits", {}, "file"
    if case == "text":
        data = b"<html><script>alert(1)</script></html>"
    elif case == "mesh":
        data = _mesh()
    elif case == "truncated":
        data = photo_bytes[: len(photo_bytes) // 2]
    elif case == "oversized":
        data = photo_bytes + b"\0" * (settings.PIPELINE_UPLOAD_MAX_BYTES - len(photo_bytes) + 1)
    elif case == "bomb":
        data = png_header_only(100_000, 100_000)  # 10^10 pixels declared in a few bytes
    elif case == "too_many_pixels":
        data = png_header_only(8000, 6000)  # 48 MP, over the 40 MP limit
    elif case == "category":
        category = "watercolour"
    elif case == "unknown_field":
        extra = {"colour": "red"}
    elif case == "engine":
        extra = {"model": "dall-e"}
    if case == "no_file":
        answer = visitor.post("/api/v1/generate", {"category": "portraits"}, format="multipart")
    elif case == "two_files":
        answer = visitor.post("/api/v1/generate", {"file": _upload(data), "image": _upload(data), "category": "portraits"},
                              format="multipart")
    else:
        answer = _post(visitor, data, category, field, **extra)
    assert answer.status_code == 400, answer.content
    error = answer.json()["error"]
    expected_field = {"category": "category", "unknown_field": "colour", "engine": None}.get(case, "file")
    if expected_field:
        assert expected_field in error["fields"], error
    else:
        assert error["code"] == "unknown_engine" and "local" in error["message"]
    assert (Job.objects.count(), Asset.objects.count(), _stored_files(settings), _free()) == (0, 0, [], 3)


@pytest.mark.django_db(transaction=True)
def test_a_signed_in_user_generates_on_the_address_free_credits_then_its_own(photo_bytes, user, other_user, settings):
    client = bearer_client(user)
    credits_grant(user=user, amount=2, reason="test", idempotency_key=f"test-{uuid.uuid4()}")
    created = client.post("/api/v1/generate", {"file": _upload(photo_bytes), "category": "editorial"}, format="multipart")
    assert created.status_code == 201, created.content
    assert created.json()["visitor_token"] is None
    job = Job.objects.get(pk=created.json()["job_id"])
    photo = Asset.objects.get(job=job, role=Asset.Role.PHOTO)
    assert job.owner_id == user.pk and photo.owner_id == user.pk
    assert job.params == {"category": "editorial", "photo_asset_id": str(photo.pk)}
    assert (_free(), credit_account_for(user=user).balance) == (2, 2)  # the address's free credits first
    assert tasks.job_run(job.pk) == "completed", Job.objects.get(pk=job.pk).error
    status = client.get(f"/api/v1/generate/{job.pk}")
    assert status.status_code == 200 and status.json()["outputUrl"]
    assert bearer_client(other_user).get(f"/api/v1/generate/{job.pk}").status_code == 404
    # Through the jobs API a user names an upload of theirs; someone else's is a 404, nothing held.
    jobs = Job.objects.count()
    foreign = bearer_client(other_user).post(
        "/api/v1/jobs", {"kind": "photo_style", "params": {"category": "portraits", "photo_asset_id": str(photo.pk)}},
        format="json")
    assert foreign.status_code == 404 and Job.objects.count() == jobs
    again = client.post("/api/v1/jobs", {"kind": "photo_style", "params": {"category": "portraits",
                                                                           "photo_asset_id": str(photo.pk)}}, format="json")
    assert again.status_code == 201, again.content
    assert tasks.job_run(again.json()["id"]) == "completed"


def test_a_visitor_cannot_name_an_asset_in_params():
    from pipeline.engines import engine_get
    from pipeline.owners import JobOwner

    engine = engine_get(kind="photo_style", name="local")
    with pytest.raises(ValidationError) as refused:
        engine.validate_params({"category": "portraits", "photo_asset_id": str(uuid.uuid4())},
                               owner=JobOwner(user=None, client_ip=VISITOR_IP))
    assert "photo_asset_id" in refused.value.message_dict


def test_the_openapi_schema_documents_both_routes(client):
    schema = client.get("/api/v1/schema", HTTP_ACCEPT="application/json").json()
    assert "post" in schema["paths"]["/api/v1/generate"]
    get = schema["paths"]["/api/v1/generate/{job_id}"]["get"]
    assert {("header", "X-Visitor-Token"), ("query", "visitor_token")} <= {(p["in"], p["name"]) for p in get["parameters"]}


def test_a_photo_the_image_classifier_flags_is_refused_before_anything_is_stored_or_spent(settings):
    # A flat skin tone scores about 0.3 with open_nsfw: a threshold of 0.2 makes it a refusal.
    settings.MODERATION_IMAGE_NSFW_THRESHOLD = 0.2
    buffer = io.BytesIO()
    Image.new("RGB", (640, 480), (224, 172, 150)).save(buffer, "JPEG")
    answer = _post(APIClient(), buffer.getvalue())
    assert answer.status_code == 400 and answer.json()["error"]["code"] == "moderation", answer.content
    assert (Job.objects.count(), Asset.objects.count(), _stored_files(settings), _free()) == (0, 0, [], 3)
