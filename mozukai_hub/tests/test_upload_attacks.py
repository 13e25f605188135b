"""Hostile uploads on every upload endpoint (issue 15, "Uploads").

/api/v1/assets/upload has its own thorough tests (pipeline/tests/test_upload_validation.py:
polyglots, bombs, 0 bytes, lying names, traversal, EXIF). Here the same attacks go to the other
upload endpoints: the photo generator (/api/v1/generate), photogrammetry (/api/v1/pipeline/upload)
and the avatar (PATCH /api/v1/users/me). Each is refused with a 4xx and stores nothing (no row, no
file), or, for a file that really is a photo, stored only as a clean re-encoding: no script, no GPS,
no name from the client.
"""

import io
import struct
import zlib
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import ExifTags, Image

from pipeline.models import Asset, Job
from pipeline.tests.conftest import grant
from pipeline.tests.test_photogrammetry_api import noise_photo

HTML = b"<html><body><script>alert(document.cookie)</script></body></html>"
SVG = (b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" width="10" height="10">'
       b'<script>alert(document.domain)</script><rect width="10" height="10"/></svg>')


def png_header_only(width: int, height: int) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")


def jpeg(size=(64, 48), *, gps: bool = False, comment: bytes = b"", shade: int = 0) -> bytes:
    image = Image.new("RGB", size, (120, 80, 40 + 20 * shade))
    for x in range(0, size[0], 16):  # some texture, as a photo has
        image.paste((10 * shade, 200, 30), (x, (x * 3 + shade * 7) % size[1], x + 8, (x * 3 + shade * 7) % size[1] + 8))
    exif = Image.Exif()
    if gps:
        exif.get_ifd(ExifTags.IFD.GPSInfo).update({
            ExifTags.GPS.GPSLatitudeRef: "N", ExifTags.GPS.GPSLatitude: (35.0, 39.0, 29.0),
            ExifTags.GPS.GPSLongitudeRef: "E", ExifTags.GPS.GPSLongitude: (139.0, 44.0, 28.0),
        })
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", exif=exif, comment=comment)
    return buffer.getvalue()


def polyglot() -> bytes:
    """A JPEG that parses, with HTML/JS in its comment segment and appended after its end."""
    return jpeg(comment=HTML) + HTML


def _generate(client, name, data):
    return client.post("/api/v1/generate", {"file": SimpleUploadedFile(name, data), "category": "portraits"},
                       format="multipart")


def _photogrammetry(client, name, data):
    """The file alone (for the request-size limit, checked before any view runs); the content
    checks send hostile files among eight good photos (a set of one is refused for its count)."""
    return client.post("/api/v1/pipeline/upload", {"images": [SimpleUploadedFile(name, data)]}, format="multipart")


def _avatar(client, name, data):
    return client.patch("/api/v1/users/me", {"avatar": SimpleUploadedFile(name, data)}, format="multipart")


ENDPOINTS = {
    "generate": _generate,
    "avatar": _avatar,
}

ATTACKS = {
    "zero_bytes": ("photo.jpg", b""),
    "decompression_bomb": ("bomb.png", png_header_only(50_000, 50_000)),
    "svg_with_script": ("image.svg", SVG),
    "svg_named_png": ("image.png", SVG),
    "html_named_jpg": ("photo.jpg", HTML),
    "truncated_jpeg": ("photo.jpg", jpeg()[:200]),
}


def stored_files(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


@pytest.fixture
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {
        key: "100000/min" for key in settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]}}
    return settings.MEDIA_ROOT


def _nothing_stored(user, media_root: Path):
    user.refresh_from_db()
    assert not user.avatar
    assert Asset.objects.count() == 0 and Job.objects.count() == 0
    assert stored_files(media_root) == []


@pytest.mark.django_db
@pytest.mark.parametrize("attack", sorted(ATTACKS))
@pytest.mark.parametrize("endpoint", sorted(ENDPOINTS))
def test_hostile_files_are_a_4xx_and_nothing_is_stored(auth_client, user, media, endpoint, attack):
    name, data = ATTACKS[attack]
    response = ENDPOINTS[endpoint](auth_client, name, data)
    assert 400 <= response.status_code < 500, (endpoint, attack, response.status_code, response.content[:300])
    assert response.json()["error"]["code"] in {"validation_error", "bad_request", "unsupported_media_type"}
    _nothing_stored(user, media)


def _gps(data: bytes) -> dict:
    with Image.open(io.BytesIO(data)) as image:
        return dict(image.getexif().get_ifd(ExifTags.IFD.GPSInfo))


def _with_gps(data: bytes) -> bytes:
    exif = Image.Exif()
    exif.get_ifd(ExifTags.IFD.GPSInfo).update({ExifTags.GPS.GPSLatitudeRef: "N",
                                               ExifTags.GPS.GPSLatitude: (35.0, 39.0, 29.0)})
    buffer = io.BytesIO()
    Image.open(io.BytesIO(data)).save(buffer, "JPEG", exif=exif, quality=95)
    return buffer.getvalue()


@pytest.mark.django_db
def test_photogrammetry_drops_every_hostile_photo_of_a_set_and_stores_only_clean_re_encodings(auth_client, user, media):
    """Seed 004: a bad photo in a set is dropped and named, the rest are processed. None of the
    hostile files is stored, and what is stored carries no GPS and no script."""
    grant(user, 10)
    good = [SimpleUploadedFile(f"view_{n:02d}.jpg", _with_gps(noise_photo(n))) for n in range(8)]
    assert all(_gps(g.read()) for g in good)  # the inputs really carry a position
    for upload in good:
        upload.seek(0)
    attacks = {**ATTACKS, "over_the_size_limit": ("big.jpg", noise_photo(99) + b"\0" * (50 * 1024 * 1024))}
    hostile = [SimpleUploadedFile(f"{attack}-{name}", data) for attack, (name, data) in attacks.items()]
    hostile.append(SimpleUploadedFile("../../../../polyglot.html", jpeg(comment=HTML) + HTML))
    response = auth_client.post("/api/v1/pipeline/upload", {"images": good + hostile}, format="multipart")
    assert response.status_code == 202, response.content[:500]
    dropped = {d["name"] for d in response.json()["preflight"]["dropped"]}
    assert {f"{attack}-{name}" for attack, (name, _) in attacks.items()} <= dropped
    photos = Asset.objects.filter(owner=user, role="photo")
    assert photos.count() == 8 + ("polyglot.html" not in dropped and "../../../../polyglot.html" not in dropped)
    files = stored_files(media)
    assert len(files) == photos.count()
    for path in files:
        data = path.read_bytes()
        assert b"<script" not in data and b"<svg" not in data and not _gps(data), path.name
        assert "polyglot" not in path.name and "view_" not in path.name
    assert not list(media.parent.rglob("polyglot*"))


@pytest.mark.django_db
@pytest.mark.parametrize("endpoint", sorted(ENDPOINTS))
def test_a_file_over_the_size_limit_is_a_4xx_and_nothing_is_stored(auth_client, user, media, settings, endpoint):
    # 50 MB of a real JPEG's bytes padded: over every per-file limit (avatar 5 MB, uploads 20-25 MB).
    data = jpeg() + b"\0" * (50 * 1024 * 1024)
    response = ENDPOINTS[endpoint](auth_client, "big.jpg", data)
    assert response.status_code in {400, 413}, (endpoint, response.status_code, response.content[:300])
    _nothing_stored(user, media)


@pytest.mark.django_db
@pytest.mark.parametrize("endpoint", ["photogrammetry", *sorted(ENDPOINTS)])
def test_a_body_over_max_request_bytes_is_the_json_413(auth_client, user, media, settings, endpoint):
    settings.MAX_REQUEST_BYTES = 64 * 1024
    send = {**ENDPOINTS, "photogrammetry": _photogrammetry}[endpoint]
    response = send(auth_client, "photo.jpg", jpeg() + b"\0" * (128 * 1024))
    assert response.status_code == 413 and response.json()["error"]["code"] == "request_too_large"
    _nothing_stored(user, media)


def _served_bytes(client, endpoint, response, user) -> bytes:
    """The bytes we keep (and serve) for an accepted photo."""
    if endpoint == "avatar":
        user.refresh_from_db()
        served = client.get(f"/api/v1/users/{user.pk}/avatar")
        assert served.status_code == 200
        return b"".join(served.streaming_content)
    assets = Asset.objects.filter(owner=user)
    assert assets.exists(), response.content[:300]
    return b"".join(asset.file.open("rb").read() for asset in assets)


@pytest.mark.django_db
@pytest.mark.parametrize("endpoint", sorted(ENDPOINTS))
def test_a_polyglot_jpeg_is_refused_or_kept_only_as_a_clean_re_encoding(auth_client, user, media, endpoint):
    response = ENDPOINTS[endpoint](auth_client, "../../../../polyglot.html", polyglot())
    if 400 <= response.status_code < 500:
        _nothing_stored(user, media)
        return
    assert response.status_code in {200, 201, 202}, (endpoint, response.status_code, response.content[:300])
    stored = _served_bytes(auth_client, endpoint, response, user)
    assert b"<script" not in stored and b"<html" not in stored
    for path in stored_files(media):  # no name from the client, nothing outside MEDIA_ROOT
        assert "polyglot" not in path.name and ".." not in str(path.relative_to(media))
    assert not list(media.parent.rglob("polyglot*"))


@pytest.mark.django_db
@pytest.mark.parametrize("endpoint", sorted(ENDPOINTS))
def test_exif_gps_never_reaches_what_we_store_or_serve(auth_client, user, media, endpoint):
    data = jpeg((320, 240), gps=True)
    assert Image.open(io.BytesIO(data)).getexif().get_ifd(ExifTags.IFD.GPSInfo)  # the input carries a position
    response = ENDPOINTS[endpoint](auth_client, "holiday.jpg", data)
    assert response.status_code in {200, 201, 202}, (endpoint, response.status_code, response.content[:300])
    assets = Asset.objects.filter(owner=user)
    kept = [asset.file.open("rb").read() for asset in assets] if endpoint != "avatar" else []
    kept.append(_served_bytes(auth_client, endpoint, response, user))
    assert kept and not any(_gps(data) for data in kept)
