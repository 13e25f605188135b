"""Film projects through the API (seed 003's CRUD, issue 12's fields): defaults, the voices,
scenes and their images (owner-checked, never revealing another user's), and every refusal
naming its field with nothing stored."""

import io

import pytest
from PIL import Image

from mozukai_hub.testing.fixtures import bearer_client
from studio.models import Project

pytestmark = pytest.mark.django_db

FILM = {"kind": "film", "title": "Three lakes",
        "scenes": [{"narration": "Morning on the first lake.", "visual": "Mist over water", "duration_s": 4},
                   {"narration": "Then the second.", "visual": "Pines", "duration_s": 3.5}]}


def png(colour="#336699", size=(64, 48)) -> io.BytesIO:
    out = io.BytesIO()
    Image.new("RGB", size, colour).save(out, format="PNG")
    out.name = "scene.png"
    out.seek(0)
    return out


def upload(client, role="ref", **extra) -> dict:
    response = client.post("/api/v1/assets/upload", {"file": png(), "type": role, **extra}, format="multipart")
    assert response.status_code == 201, response.content
    return response.json()


def fields_of(response) -> dict:
    assert response.status_code == 400, response.content
    return response.json()["error"]["fields"]


def snapshot():
    return list(Project.objects.order_by("id").values())


def test_seed_003_crud_with_the_defaults(auth_client, user):
    created = auth_client.post("/api/v1/projects", FILM, format="json")
    assert created.status_code == 201, created.content
    film = created.json()
    assert {k: film[k] for k in ("kind", "title", "aspect_ratio", "resolution", "voice", "voice_speed", "voice_pitch",
                                 "subtitles", "vibe")} == {
        "kind": "film", "title": "Three lakes", "aspect_ratio": "16:9", "resolution": "720p", "voice": "en-us",
        "voice_speed": 165, "voice_pitch": 50, "subtitles": "both", "vibe": "professional"}
    assert film["scenes"] == [{**scene, "image_asset_id": None} for scene in FILM["scenes"]]
    assert film["inputs"] == [] and film["jobs"] == [] and film["user_id"] == str(user.pk)
    assert "platform" not in film and "headline" not in film  # a film shows a film's fields

    url = f"/api/v1/projects/{film['id']}"
    assert auth_client.get(url).json() == film
    assert [p["id"] for p in auth_client.get("/api/v1/projects?kind=film").json()] == [film["id"]]
    assert auth_client.get("/api/v1/projects?kind=thumbnail").json() == []

    patched = auth_client.patch(url, {"voice": "fr-fr", "voice_pitch": 70, "scenes": [{"visual": "Only a card"}]}, format="json")
    assert patched.status_code == 200, patched.content
    body = patched.json()
    assert (body["voice"], body["voice_pitch"], body["voice_speed"], body["title"]) == ("fr-fr", 70, 165, "Three lakes")
    assert body["scenes"] == [{"narration": "", "visual": "Only a card", "duration_s": 5, "image_asset_id": None}]

    put = auth_client.put(url, {"title": "Vertical", "aspect_ratio": "9:16", "resolution": "1080p", "subtitles": "burned",
                                "vibe": "dramatic", "scenes": FILM["scenes"][:1]}, format="json")
    assert put.status_code == 200, put.content
    body = put.json()
    # Replaced: the voice PATCH set goes back to the default.
    assert (body["title"], body["aspect_ratio"], body["resolution"], body["subtitles"], body["vibe"], body["voice"],
            body["voice_pitch"], len(body["scenes"])) == ("Vertical", "9:16", "1080p", "burned", "dramatic", "en-us", 50, 1)
    assert auth_client.delete(url).status_code == 204
    assert auth_client.get(url).status_code == 404 and Project.objects.count() == 0


def long_scenes(n):
    return [{"narration": f"Scene {i}", "visual": "", "duration_s": 2} for i in range(n)]


@pytest.mark.parametrize("change, field", [
    ({"scenes": []}, "scenes"),
    ({"scenes": long_scenes(31)}, "scenes"),
    ({"scenes": "one scene"}, "scenes"),
    ({"scenes": [{"narration": "x" * 601, "duration_s": 3}]}, "scenes[0].narration"),
    ({"scenes": [FILM["scenes"][0], {"narration": "Hi", "duration_s": 0}]}, "scenes[1].duration_s"),
    ({"scenes": [{"narration": "Hi", "duration_s": 31}]}, "scenes[0].duration_s"),
    ({"scenes": [{"narration": "Hi", "duration_s": "long"}]}, "scenes[0].duration_s"),
    ({"scenes": [{"narration": "", "visual": ""}]}, "scenes[0].narration"),
    ({"scenes": [{"narration": "Hi", "music": "loud"}]}, "scenes[0].music"),
    ({"scenes": [{"narration": "Hi", "image_asset_id": "not-a-uuid"}]}, "scenes[0].image_asset_id"),
    ({"scenes": ["Hi"]}, "scenes[0]"),
    ({"voice": "klingon"}, "voice"),
    ({"voice_speed": 79}, "voice_speed"),
    ({"voice_pitch": 100}, "voice_pitch"),
    ({"aspect_ratio": "4:3"}, "aspect_ratio"),
    ({"resolution": "4k"}, "resolution"),
    ({"subtitles": "none"}, "subtitles"),
    ({"vibe": "grunge"}, "vibe"),
    ({"title": ""}, "title"),
    ({"headline": "Hi"}, "headline"),
])
def test_bad_input_names_the_field_and_stores_nothing(auth_client, change, field):
    assert field in fields_of(auth_client.post("/api/v1/projects", {**FILM, **change}, format="json"))
    assert Project.objects.count() == 0


def test_bad_input_on_patch_and_put_changes_nothing(auth_client):
    url = f"/api/v1/projects/{auth_client.post('/api/v1/projects', FILM, format='json').json()['id']}"
    before = snapshot()
    for body, field in (({"scenes": []}, "scenes"), ({"voice": "klingon"}, "voice"), ({"platform": "youtube"}, "platform"),
                        ({"kind": "thumbnail"}, "kind"), ({"scenes": [{"narration": "y" * 601}]}, "scenes[0].narration")):
        assert field in fields_of(auth_client.patch(url, body, format="json"))
        assert field in fields_of(auth_client.put(url, {**FILM, **body}, format="json"))
    assert snapshot() == before


def test_scene_images_are_the_callers_own_ref_uploads_and_anothers_is_not_revealed(auth_client, other_user):
    mine = upload(auth_client)["id"]
    selfie = upload(auth_client, role="selfie")["id"]
    theirs = upload(bearer_client(other_user))["id"]
    scenes = [{"narration": "With my picture.", "visual": "", "duration_s": 3, "image_asset_id": mine}]
    created = auth_client.post("/api/v1/projects", {**FILM, "scenes": scenes}, format="json")
    assert created.status_code == 201, created.content
    assert created.json()["scenes"][0]["image_asset_id"] == mine

    missing = "00000000-0000-4000-8000-000000000000"
    answers = {}
    for asset_id in (theirs, missing, selfie):
        body = {**FILM, "scenes": [FILM["scenes"][0], {**scenes[0], "image_asset_id": asset_id}]}
        answers[asset_id] = fields_of(auth_client.post("/api/v1/projects", body, format="json"))
        assert set(answers[asset_id]) == {"scenes[1].image_asset_id"}
    # Another user's image is answered exactly as a missing one (only the id sent differs).
    assert answers[theirs]["scenes[1].image_asset_id"][0].replace(theirs, "ID") == \
        answers[missing]["scenes[1].image_asset_id"][0].replace(missing, "ID")
    assert Project.objects.count() == 1


def test_another_users_film_is_a_404(auth_client, other_user):
    theirs = bearer_client(other_user).post("/api/v1/projects", FILM, format="json").json()["id"]
    before = snapshot()
    url = f"/api/v1/projects/{theirs}"
    assert auth_client.get(url).status_code == 404
    assert auth_client.patch(url, {"title": "Mine"}, format="json").status_code == 404
    assert auth_client.put(url, FILM, format="json").status_code == 404
    assert auth_client.delete(url).status_code == 404
    assert snapshot() == before
