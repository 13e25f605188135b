import time

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core import signing

from mozukai_hub.testing.fixtures import bearer_client
from mozukai_hub.testing.images import png_bytes
from pipeline.models import Asset, AssetMeta


def upload(client, data: bytes, name="photo.png", **fields):
    return client.post("/api/v1/assets/upload", {"file": SimpleUploadedFile(name, data), **fields}, format="multipart")


def stored_files(settings) -> list:
    from pathlib import Path

    root = Path(settings.MEDIA_ROOT)
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


@pytest.mark.django_db
def test_upload_png_sniffed_and_downloadable(auth_client, user, api_client, settings):
    response = upload(auth_client, png_bytes((8, 6)), name="holiday.exe", role="selfie")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["asset_type"] == "png" and body["role"] == "selfie" and (body["width"], body["height"]) == (8, 6)
    asset = Asset.objects.get(pk=body["id"])
    assert "holiday" not in asset.file.name and asset.file.name.endswith(".png")

    link = auth_client.get(f"/api/v1/assets/{asset.id}/download-url").json()
    served = api_client.get(link["url"])  # a signed link needs no credentials
    assert served.status_code == 200 and b"".join(served.streaming_content) == png_bytes((8, 6))

    token = link["url"].rsplit("/", 1)[-1]
    tampered = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    assert api_client.get(f"/api/v1/downloads/{tampered}").status_code == 403
    forged = signing.dumps({"a": str(asset.id)}, salt="another-purpose")
    assert api_client.get(f"/api/v1/downloads/{forged}").status_code == 403


@pytest.mark.django_db
def test_a_signed_link_serves_byte_ranges_so_a_video_can_seek(auth_client, api_client):
    data = png_bytes((40, 30))
    asset_id = upload(auth_client, data).json()["id"]
    stored = Asset.objects.get(pk=asset_id).file.open("rb").read()  # the re-encoded file
    url = auth_client.get(f"/api/v1/assets/{asset_id}/download-url").json()["url"]
    size = len(stored)

    def get(range_header=None):
        response = api_client.get(url, **({"HTTP_RANGE": range_header} if range_header else {}))
        return response, b"".join(response.streaming_content)

    whole, body = get()
    assert whole.status_code == 200 and body == stored and whole["Accept-Ranges"] == "bytes"
    for header, first, last in (("bytes=0-9", 0, 9), ("bytes=10-", 10, size - 1), ("bytes=-5", size - 5, size - 1),
                                (f"bytes=3-{size + 100}", 3, size - 1)):
        part, body = get(header)
        assert part.status_code == 206, header
        assert part["Content-Range"] == f"bytes {first}-{last}/{size}" and body == stored[first:last + 1], header
        assert part["Content-Disposition"].startswith("attachment") and part["X-Content-Type-Options"] == "nosniff"
    past = api_client.get(url, HTTP_RANGE=f"bytes={size}-")
    assert past.status_code == 416 and past["Content-Range"] == f"bytes */{size}"
    assert past.json()["error"]["code"] == "range_not_satisfiable"
    for ignored in ("bytes=0-1,4-5", "items=0-1", "bytes=5-2", "bytes=x-"):
        response, body = get(ignored)
        assert response.status_code == 200 and body == stored, ignored


@pytest.mark.django_db
def test_upload_takes_the_seeds_type_field_as_the_role(auth_client, user):
    """Seed 000: `curl -F "file=@image.jpg" -F "type=profile_photo"`."""
    response = upload(auth_client, png_bytes(), type="profile_photo")
    assert response.status_code == 201, response.content
    assert response.json()["role"] == "profile_photo"
    assert upload(auth_client, png_bytes(), type="selfie", role="selfie").json()["role"] == "selfie"
    for fields in ({"type": "output"}, {"type": "hologram"}, {"type": "selfie", "role": "ref"}):
        refused = upload(auth_client, png_bytes(), **fields)
        assert refused.status_code == 400 and "type" in refused.json()["error"]["fields"], refused.content
    assert Asset.objects.filter(owner=user).count() == 2


@pytest.mark.django_db
def test_expired_link_is_403(auth_client, user, api_client, settings):
    asset_id = upload(auth_client, png_bytes()).json()["id"]
    settings.PIPELINE_DOWNLOAD_URL_SECONDS = 1
    url = auth_client.get(f"/api/v1/assets/{asset_id}/download-url").json()["url"]
    time.sleep(2.1)
    assert api_client.get(url).status_code == 403


@pytest.mark.django_db
@pytest.mark.parametrize(
    "data, name",
    [
        (b"GIF89a not really an image at all", "cat.png"),
        (png_bytes()[:40], "truncated.png"),
        (b"MZ\x90\x00 executable", "photo.jpg"),
        (b"", "empty.png"),
    ],
)
def test_fake_or_corrupt_upload_stores_nothing(auth_client, user, settings, data, name):
    response = upload(auth_client, data, name=name)
    assert response.status_code == 400, response.content
    assert Asset.objects.count() == 0 and stored_files(settings) == []


@pytest.mark.django_db
def test_oversized_and_too_many_pixels(auth_client, user, settings):
    settings.PIPELINE_UPLOAD_MAX_BYTES = 1000
    big = png_bytes((400, 400), color=(1, 2, 3)) + b"\0" * 2000
    assert upload(auth_client, big).status_code == 413
    settings.PIPELINE_UPLOAD_MAX_BYTES = 10_000_000
    settings.PIPELINE_UPLOAD_MAX_PIXELS = 100
    assert upload(auth_client, png_bytes((20, 20))).status_code == 400
    assert Asset.objects.count() == 0 and stored_files(settings) == []


@pytest.mark.django_db
def test_upload_denied_paths(api_client, auth_client, user, other_user, settings):
    assert upload(api_client, png_bytes()).status_code == 401
    their_job = bearer_client(other_user).post("/api/v1/jobs", {"kind": "scad_render", "params": {"scad": "cube(1);"}},
                                               format="json").json()["id"]
    assert upload(auth_client, png_bytes(), job_id=their_job).status_code == 404
    assert upload(auth_client, png_bytes(), role="output").status_code == 400
    assert Asset.objects.count() == 0 and stored_files(settings) == []


@pytest.mark.django_db
def test_record_list_get_delete_and_ownership(auth_client, user, other_user, api_client):
    job_id = auth_client.post("/api/v1/jobs", {"kind": "scad_render", "params": {"scad": "cube(1);"}}, format="json").json()["id"]
    created = auth_client.post("/api/v1/assets", {"job_id": job_id, "asset_type": "glb", "uri": "s3://bucket/file.glb"}, format="json")
    assert created.status_code == 201, created.content
    asset_id = created.json()["id"]
    assert created.json()["uri"] == "s3://bucket/file.glb" and created.json()["stored"] is False
    assert [a["id"] for a in auth_client.get(f"/api/v1/assets?job_id={job_id}").json()] == [asset_id]
    assert auth_client.get(f"/api/v1/assets/{asset_id}").json()["job_id"] == job_id
    assert auth_client.get(f"/api/v1/assets/{asset_id}/download-url").status_code == 409  # external: use its uri

    intruder = bearer_client(other_user)
    assert intruder.get(f"/api/v1/assets/{asset_id}").status_code == 404
    assert intruder.delete(f"/api/v1/assets/{asset_id}").status_code == 404
    assert intruder.post("/api/v1/assets", {"job_id": job_id, "asset_type": "glb", "uri": "x"}, format="json").status_code == 404
    assert api_client.get("/api/v1/assets").status_code == 401
    assert auth_client.post("/api/v1/assets", {"asset_type": "exe", "uri": "x"}, format="json").status_code == 400
    assert auth_client.post("/api/v1/assets", {"asset_type": "glb"}, format="json").status_code == 400
    assert Asset.objects.count() == 1
    assert auth_client.delete(f"/api/v1/assets/{asset_id}").status_code == 204
    assert Asset.objects.count() == 0


@pytest.mark.django_db
def test_asset_meta_seed_flow(auth_client, user, other_user):
    asset_id = auth_client.post("/api/v1/assets", {"asset_type": "glb", "uri": "s3://bucket/file.glb"}, format="json").json()["id"]
    payload = {
        "asset_id": asset_id, "part_name": "propeller", "component_of": asset_id, "position_json": {"x": 0, "y": 0, "z": 0},
        "image_paths_json": [{"face_direction": [0, 0, 0, 1], "image_src": ""}],
        "material_json": {"type": "plastic", "thickness": "10mm"}, "is_composite_of": [asset_id],
        "used_for_json": ["build air turbulence", "engine coupling"],
    }
    created = auth_client.post("/api/v1/asset-meta", payload, format="json")
    assert created.status_code == 201, created.content
    meta_id = created.json()["id"]
    assert created.json()["component_of"] == asset_id and created.json()["is_composite_of"] == [asset_id]
    assert [m["id"] for m in auth_client.get(f"/api/v1/asset-meta?asset_id={asset_id}").json()] == [meta_id]
    patched = auth_client.patch(f"/api/v1/asset-meta/{meta_id}",
                                {"part_name": "propeller v2", "material_json": {"type": "carbon", "thickness": "8mm"}}, format="json")
    assert patched.status_code == 200 and patched.json()["part_name"] == "propeller v2"
    assert patched.json()["used_for_json"] == payload["used_for_json"]

    intruder = bearer_client(other_user)
    assert intruder.get(f"/api/v1/asset-meta/{meta_id}").status_code == 404
    assert intruder.patch(f"/api/v1/asset-meta/{meta_id}", {"part_name": "x"}, format="json").status_code == 404
    assert intruder.post("/api/v1/asset-meta", {**payload, "part_name": "x"}, format="json").status_code == 404
    their_asset = intruder.post("/api/v1/assets", {"asset_type": "stl", "uri": "x"}, format="json").json()["id"]
    assert auth_client.patch(f"/api/v1/asset-meta/{meta_id}", {"component_of": their_asset}, format="json").status_code == 404
    assert auth_client.post("/api/v1/asset-meta", {"asset_id": asset_id, "colour": "red"}, format="json").status_code == 400
    assert AssetMeta.objects.get().part_name == "propeller v2" and AssetMeta.objects.count() == 1
    assert auth_client.delete(f"/api/v1/asset-meta/{meta_id}").status_code == 204
    assert AssetMeta.objects.count() == 0
