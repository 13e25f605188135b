"""Uploads into a project (`POST /assets/upload` with `project_id`, seed 000) and the profile
photo that becomes the avatar: owner-checked before anything is stored."""

import io

import pytest
from PIL import Image

from accounts.services import AVATAR_SIZE
from mozukai_hub.testing.fixtures import bearer_client
from pipeline.models import Asset
from studio.models import ProjectInput

pytestmark = pytest.mark.django_db

PROJECT = {"platform": "youtube", "headline": "Ten tips", "vibe": "bold"}


def png(size=(80, 60), colour="#cc3300") -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, colour).save(out, format="PNG")
    return out.getvalue()


def upload(client, data: bytes, **fields):
    body = io.BytesIO(data)
    body.name = "image.png"
    return client.post("/api/v1/assets/upload", {"file": body, **fields}, format="multipart")


def stored_files(settings):
    from pathlib import Path

    root = Path(settings.MEDIA_ROOT)
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


def test_uploads_become_the_projects_inputs_with_signed_urls(auth_client, api_client):
    project = auth_client.post("/api/v1/projects", PROJECT, format="json").json()
    selfie = upload(auth_client, png(), type="selfie", project_id=project["id"])
    assert selfie.status_code == 201, selfie.content
    ref = upload(auth_client, png(colour="#0033cc"), type="ref", project_id=project["id"]).json()
    assert upload(auth_client, png()).status_code == 201  # not for a project: not an input

    inputs = auth_client.get(f"/api/v1/projects/{project['id']}").json()["inputs"]
    assert [(i["id"], i["role"], i["asset_type"], i["width"], i["height"]) for i in inputs] == [
        (selfie.json()["id"], "selfie", "png", 80, 60), (ref["id"], "ref", "png", 80, 60)]
    served = api_client.get(inputs[0]["url"])  # signed: no credentials needed
    assert served.status_code == 200 and Image.open(io.BytesIO(b"".join(served.streaming_content))).size == (80, 60)
    listed = auth_client.get("/api/v1/projects").json()[0]
    assert [i["id"] for i in listed["inputs"]] == [i["id"] for i in inputs]


def test_another_users_project_is_a_404_and_nothing_is_stored(auth_client, other_user, settings):
    theirs = bearer_client(other_user).post("/api/v1/projects", PROJECT, format="json").json()["id"]
    response = upload(auth_client, png(), type="selfie", project_id=theirs)
    assert response.status_code == 404 and response.json()["error"]["code"] == "not_found"
    missing = upload(auth_client, png(), type="selfie", project_id="00000000-0000-4000-8000-000000000000")
    assert missing.status_code == 404 and missing.json() == response.json()
    assert Asset.objects.count() == 0 and ProjectInput.objects.count() == 0 and stored_files(settings) == []


@pytest.mark.parametrize("data, fields, field", [
    (png(), {"type": "profile_photo"}, "type"),  # a profile photo is not a project input
    (png(), {}, "type"),  # role `upload`
    (b"solid cube\nendsolid cube\n", {"type": "selfie"}, "file"),  # not an image
    (png(), {"type": "selfie", "project_id": "nope"}, "project_id"),
])
def test_a_wrong_project_upload_is_a_400_and_stores_nothing(auth_client, user, settings, data, fields, field):
    project = auth_client.post("/api/v1/projects", PROJECT, format="json").json()
    response = upload(auth_client, data, **{"project_id": project["id"], **fields})
    assert response.status_code == 400, response.content
    assert field in response.json()["error"]["fields"]
    user.refresh_from_db()
    assert Asset.objects.count() == 0 and ProjectInput.objects.count() == 0 and stored_files(settings) == []
    assert not user.avatar


def test_a_profile_photo_becomes_the_avatar_re_encoded(auth_client, user, client):
    response = upload(auth_client, png(size=(1200, 900)), type="profile_photo")
    assert response.status_code == 201, response.content
    assert response.json()["role"] == "profile_photo"
    user.refresh_from_db()
    with user.avatar.open("rb") as handle, Image.open(handle) as avatar:
        assert avatar.format == "PNG" and max(avatar.size) == AVATAR_SIZE and avatar.size == (AVATAR_SIZE, 384)
    first = user.avatar.name
    upload(auth_client, png(size=(100, 100)), type="profile_photo")
    user.refresh_from_db()
    assert user.avatar.name != first
    with user.avatar.open("rb") as handle:
        assert Image.open(handle).size == (100, 100)
