"""Pre-flight and bad input on seed 004's upload: named photos, 4xx, nothing stored, nothing spent."""

import io
import struct
import zlib

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from catalog.models import Category, Product
from pipeline.models import Asset, Job
from pipeline.photogrammetry.preflight import preflight_run

from .conftest import grant, spendable
from .test_photogrammetry_api import noise_photo

UPLOAD, PREFLIGHT = "/api/v1/pipeline/upload", "/api/v1/pipeline/preflight"


def _photo(name: str, data: bytes) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data, content_type="image/jpeg")


def _good(count: int, start: int = 0) -> list[SimpleUploadedFile]:
    return [_photo(f"view_{n + 1:02d}.jpg", noise_photo(n)) for n in range(start, start + count)]


def _png_bomb(width: int = 30000, height: int = 30000) -> bytes:
    """A PNG whose header declares 900 Mpx, with a few bytes of data: refused before decoding."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")


def _nothing_changed(user, credits: int) -> None:
    assert not Asset.objects.exists() and not Job.objects.exists()
    assert spendable(user) == credits


@pytest.fixture
def client_with_credits(api_client, user):
    """Signed in with 10 credits of its own; the test address's free credits are spent first."""
    api_client.force_authenticate(user)
    grant(user, 10)
    return api_client


@pytest.fixture
def credits(client_with_credits, user) -> int:
    return spendable(user)


@pytest.mark.django_db
def test_a_blurred_set_is_refused_before_any_credit_moves(client_with_credits, user, credits):
    photos = [_photo(f"view_{n + 1:02d}.jpg", noise_photo(n, blur=6)) for n in range(9)]
    reply = client_with_credits.post(UPLOAD, {"images": photos}, format="multipart")
    assert reply.status_code == 400
    error = reply.json()["error"]
    assert error["code"] == "preflight_failed" and "view_03.jpg is blurred" in error["message"]
    assert error["preflight"]["accepted"] == 0 and len(error["preflight"]["dropped"]) == 9
    _nothing_changed(user, credits)


@pytest.mark.django_db
def test_a_few_bad_photos_are_dropped_and_named(client_with_credits, user, credits):
    good = _good(8)
    bad = [
        _photo("soft.jpg", noise_photo(40, blur=6)),
        _photo("again.jpg", good[2].read()),
        _photo("empty.jpg", b""),
        _photo("notes.jpg", b"these are my notes, not a photo\n" * 20),
        _photo("bomb.png", _png_bomb()),
        _photo("tiny.jpg", noise_photo(41, size=(320, 240))),
    ]
    for upload in good:
        upload.seek(0)
    reply = client_with_credits.post(UPLOAD, {"images": good + bad, "name": "Pot"}, format="multipart")
    assert reply.status_code == 202, reply.json()
    body = reply.json()
    assert body["photos"] == 8 and body["status"] == "queued"
    reasons = {d["name"]: " ".join(d["reasons"]) for d in body["preflight"]["dropped"]}
    assert reasons["soft.jpg"] == "is blurred"
    assert reasons["again.jpg"] == "is a duplicate of view_03.jpg"
    assert reasons["empty.jpg"] == "is empty (0 bytes)"
    assert reasons["notes.jpg"].startswith("is not an image")
    assert "pixels" in reasons["bomb.png"]
    assert reasons["tiny.jpg"].startswith("is too small (320×240")
    job = Job.objects.get(pk=body["job_id"])
    assert Asset.objects.filter(owner=user, role="photo").count() == 8 and job.inputs.count() == 8
    assert spendable(user) == credits - 3 and job.credit_cost == 3
    status = client_with_credits.get(f"/api/v1/pipeline/status/{job.pk}").json()
    assert [d["name"] for d in status["preflight"]["dropped"]] == list(reasons)
    assert status["quality"] is None and status["downloads"] == {}
    assert client_with_credits.get(f"/api/v1/pipeline/download/{job.pk}").status_code == 404  # before completion


@pytest.mark.django_db
@pytest.mark.parametrize("count", [3, 7])
def test_too_few_photos_is_a_400_naming_images(client_with_credits, user, credits, count):
    reply = client_with_credits.post(UPLOAD, {"images": _good(count)}, format="multipart")
    assert reply.status_code == 400
    assert f"at least 8" in reply.json()["error"]["fields"]["images"][0]
    _nothing_changed(user, credits)


@pytest.mark.django_db
def test_too_many_photos_is_a_400(client_with_credits, user, credits, settings):
    settings.PHOTOGRAMMETRY_MAX_PHOTOS = 9
    reply = client_with_credits.post(UPLOAD, {"images": _good(10)}, format="multipart")
    assert reply.status_code == 400 and "at most 9" in reply.json()["error"]["fields"]["images"][0]
    _nothing_changed(user, credits)


@pytest.mark.django_db
def test_product_id_needs_staff_and_an_existing_product(client_with_credits, user, credits):
    product = Product.objects.create(category=Category.objects.create(name="Pots", slug="pots"), name="Pot", slug="pot",
                                     price="10.00")
    reply = client_with_credits.post(UPLOAD, {"images": _good(8), "product_id": product.pk}, format="multipart")
    assert reply.status_code == 400 and "staff" in reply.json()["error"]["fields"]["product_id"][0]
    user.is_staff = True
    user.save(update_fields=["is_staff"])
    reply = client_with_credits.post(UPLOAD, {"images": _good(8), "product_id": product.pk + 100}, format="multipart")
    assert reply.status_code == 400 and "no product" in reply.json()["error"]["fields"]["product_id"][0]
    _nothing_changed(user, credits)


@pytest.mark.django_db
def test_not_enough_credits_stores_nothing(api_client, user, settings):
    settings.DEFAULT_FREE_CREDITS = 0
    api_client.force_authenticate(user)
    reply = api_client.post(UPLOAD, {"images": _good(8)}, format="multipart")
    assert reply.status_code == 402
    assert not Asset.objects.exists() and not Job.objects.exists()


@pytest.mark.django_db
def test_unknown_fields_and_quality_are_refused(client_with_credits, user, credits):
    reply = client_with_credits.post(UPLOAD, {"images": _good(8), "colour": "red"}, format="multipart")
    assert reply.status_code == 400 and list(reply.json()["error"]["fields"]) == ["colour"]
    reply = client_with_credits.post(UPLOAD, {"images": _good(8), "quality": "ultra"}, format="multipart")
    assert reply.status_code == 400 and list(reply.json()["error"]["fields"]) == ["quality"]
    _nothing_changed(user, credits)


@pytest.mark.django_db
def test_anonymous_is_401_and_other_users_job_is_404(api_client, client_with_credits, other_user):
    job_id = client_with_credits.post(UPLOAD, {"images": _good(8)}, format="multipart").json()["job_id"]
    api_client.force_authenticate(None)
    assert api_client.post(UPLOAD, {"images": _good(8)}, format="multipart").status_code == 401
    assert api_client.get(f"/api/v1/pipeline/status/{job_id}").status_code == 401
    api_client.force_authenticate(other_user)
    assert api_client.get(f"/api/v1/pipeline/status/{job_id}").status_code == 404
    assert api_client.get(f"/api/v1/pipeline/download/{job_id}?format=glb").status_code == 404


@pytest.mark.django_db
def test_download_format_is_glb_or_ply(client_with_credits):
    job_id = client_with_credits.post(UPLOAD, {"images": _good(8)}, format="multipart").json()["job_id"]
    reply = client_with_credits.get(f"/api/v1/pipeline/download/{job_id}?format=obj")
    assert reply.status_code == 400 and "glb, ply" in reply.json()["error"]["message"]


@pytest.mark.django_db
def test_preflight_endpoint_answers_verdicts_and_stores_nothing(client_with_credits, user, credits):
    photos = _good(2) + [_photo("soft.jpg", noise_photo(9, blur=6))]
    reply = client_with_credits.post(PREFLIGHT, {"images": photos}, format="multipart")
    assert reply.status_code == 200
    body = reply.json()
    assert [p["ok"] for p in body["photos"]] == [True, True, False] and body["ok"] is False
    assert body["photos"][0]["width"] == 640 and body["photos"][0]["sharpness"] > body["photos"][2]["sharpness"]
    _nothing_changed(user, credits)


def _jpeg_with_exif(*, orientation: int, focal: float, focal35: int) -> bytes:
    image = Image.open(io.BytesIO(noise_photo(7)))
    exif = image.getexif()
    exif[0x0112] = orientation
    exif.get_ifd(0x8769).update({0x920A: focal, 0xA405: focal35})
    out = io.BytesIO()
    image.save(out, format="JPEG", exif=exif)
    return out.getvalue()


def test_exif_focal_length_and_orientation_are_read_and_group_cameras(settings):
    rotated = _jpeg_with_exif(orientation=6, focal=4.2, focal35=26)
    report = preflight_run([("a.jpg", rotated, len(rotated)), ("b.jpg", noise_photo(1), 10)])
    first, second = report.photos
    assert (first.orientation, first.focal_length_mm, first.focal_length_35mm) == (6, 4.2, 26)
    assert (first.width, first.height) == (480, 640)  # turned upright as the EXIF says
    assert first.camera_group != second.camera_group and report.single_camera is False
    assert {g["photos"] for g in report.camera_groups} == {1}


def test_overexposed_photo_is_named():
    white = io.BytesIO()
    Image.new("RGB", (640, 480), (255, 255, 255)).save(white, format="JPEG")
    files = [("bright.jpg", white.getvalue(), 1)] + [(f"v{n}.jpg", noise_photo(n), 1) for n in range(3)]
    report = preflight_run(files)
    assert report.photos[0].problems[0].startswith("is over-exposed")
