"""Thumbnail projects through the API: seed 000's curls as written, seed 003's PUT/DELETE, the
presets, and every refusal (nothing stored)."""

import pytest

from accounts.services import user_delete
from mozukai_hub.testing.fixtures import bearer_client
from studio.models import Project

pytestmark = pytest.mark.django_db

# Seed 000, POST /api/v1/projects/ (body as written).
SEED_000_BODY = {
    "mode": "design", "platform": "youtube", "width": 1920, "height": 1080, "headline": "Title",
    "subtext": "Subtitle", "vibe": "professional", "model_pref": "nano_banana",
}


def fields_of(response) -> dict:
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert error["code"] == "validation_error" and error["message"].startswith("Invalid input: ")
    return error["fields"]


def snapshot():
    return list(Project.objects.order_by("id").values())


def test_seed_000_create_get_patch_as_written(auth_client, user):
    created = auth_client.post("/api/v1/projects/", SEED_000_BODY, format="json")
    assert created.status_code == 201, created.content
    project = created.json()
    assert {k: project[k] for k in SEED_000_BODY} == SEED_000_BODY
    assert project["kind"] == "thumbnail" and project["title"] == "Title" and project["user_id"] == str(user.pk)
    assert set(project) >= {"id", "created_at", "updated_at"}

    got = auth_client.get(f"/api/v1/projects/{project['id']}")
    assert got.status_code == 200 and got.json() == project

    patched = auth_client.patch(f"/api/v1/projects/{project['id']}", {"headline": "Updated Title"}, format="json")
    assert patched.status_code == 200, patched.content
    assert patched.json()["headline"] == "Updated Title"
    assert {k: v for k, v in patched.json().items() if k not in ("headline", "updated_at")} == {
        k: v for k, v in project.items() if k not in ("headline", "updated_at")}
    stored = Project.objects.get()
    assert (stored.headline, stored.width, stored.height, stored.owner_id) == ("Updated Title", 1920, 1080, user.pk)


def test_both_slash_forms_and_the_seed_003_put_and_delete(auth_client):
    project_id = auth_client.post("/api/v1/projects", SEED_000_BODY, format="json").json()["id"]
    put = auth_client.put(f"/api/v1/projects/{project_id}/", {
        "title": "Launch video", "platform": "tiktok", "headline": "We shipped it", "vibe": "tech"}, format="json")
    assert put.status_code == 200, put.content
    body = put.json()
    # Replaced: what PUT leaves out goes back to its default; the size follows the new platform.
    assert (body["title"], body["platform"], body["width"], body["height"], body["headline"], body["subtext"],
            body["vibe"], body["mode"], body["model_pref"]) == (
        "Launch video", "tiktok", 1080, 1920, "We shipped it", "", "tech", "design", "local")
    assert auth_client.delete(f"/api/v1/projects/{project_id}/").status_code == 204
    assert Project.objects.count() == 0
    assert auth_client.get(f"/api/v1/projects/{project_id}").status_code == 404


def test_sizes_default_from_the_platform_and_one_side_follows_its_aspect(auth_client):
    def create(**body):
        response = auth_client.post("/api/v1/projects", {"headline": "Hi", **body}, format="json")
        assert response.status_code == 201, response.content
        return response.json()

    sizes = {p: (create(platform=p)["width"], create(platform=p)["height"]) for p in (
        "youtube", "youtube_shorts", "tiktok", "instagram_reels", "instagram_square", "instagram_portrait", "x", "linkedin")}
    assert sizes == {"youtube": (1280, 720), "youtube_shorts": (1080, 1920), "tiktok": (1080, 1920),
                     "instagram_reels": (1080, 1920), "instagram_square": (1080, 1080),
                     "instagram_portrait": (1080, 1350), "x": (1600, 900), "linkedin": (1200, 627)}
    one = create(platform="youtube", width=2560)
    assert (one["width"], one["height"], one["vibe"], one["mode"], one["model_pref"]) == (2560, 1440, "professional", "design", "local")
    assert (create(platform="linkedin", height=1254)["width"]) == 2400
    # Within 1% of the aspect is kept as given.
    assert (create(platform="x", width=1600, height=905)["height"]) == 905

    kept = auth_client.patch(f"/api/v1/projects/{one['id']}", {"platform": "youtube", "headline": "Again"}, format="json")
    assert (kept.json()["width"], kept.json()["height"]) == (2560, 1440)
    project = create(platform="youtube")
    changed = auth_client.patch(f"/api/v1/projects/{project['id']}", {"platform": "instagram_portrait"}, format="json")
    assert (changed.json()["width"], changed.json()["height"]) == (1080, 1350)
    wider = auth_client.patch(f"/api/v1/projects/{project['id']}", {"width": 2160}, format="json")
    assert (wider.json()["width"], wider.json()["height"]) == (2160, 2700)
    taller = auth_client.patch(f"/api/v1/projects/{project['id']}", {"platform": "youtube", "width": 4000}, format="json")
    assert (taller.json()["width"], taller.json()["height"]) == (4000, 2250)


@pytest.mark.parametrize("body, field", [
    ({**SEED_000_BODY, "platform": "myspace"}, "platform"),
    ({**SEED_000_BODY, "vibe": "grunge"}, "vibe"),
    ({**SEED_000_BODY, "mode": "paint"}, "mode"),
    ({**SEED_000_BODY, "model_pref": "dall-e"}, "model_pref"),
    ({**SEED_000_BODY, "width": 5120, "height": 2880}, "width"),
    ({**SEED_000_BODY, "width": 200, "height": 112}, "width"),
    ({**SEED_000_BODY, "platform": "instagram_square", "width": 4097, "height": 4097}, "width"),
    ({**SEED_000_BODY, "width": 1000, "height": 562}, "width"),  # under YouTube's 1280×720 minimum
    ({**SEED_000_BODY, "platform": "linkedin", "width": 320, "height": None}, "height"),
    ({**SEED_000_BODY, "platform": "linkedin", "width": 320}, "height"),  # derived 167 px: too small
    ({**SEED_000_BODY, "width": 1920, "height": 1200}, "height"),  # 16:10 is not YouTube's 16:9
    ({**SEED_000_BODY, "width": "wide"}, "width"),
    ({**SEED_000_BODY, "headline": ""}, "headline"),
    ({**SEED_000_BODY, "headline": "x" * 121}, "headline"),
    ({k: v for k, v in SEED_000_BODY.items() if k != "headline"}, "headline"),
    ({k: v for k, v in SEED_000_BODY.items() if k != "platform"}, "platform"),
    ({**SEED_000_BODY, "colour": "red"}, "colour"),
    ({**SEED_000_BODY, "kind": "poster"}, "kind"),
    ({**SEED_000_BODY, "title": ""}, "title"),
])
def test_bad_input_on_create_is_a_400_naming_the_field_and_stores_nothing(auth_client, body, field):
    assert field in fields_of(auth_client.post("/api/v1/projects", body, format="json"))
    assert Project.objects.count() == 0


def test_off_aspect_names_both_sides_and_says_the_expected_size(auth_client):
    fields = fields_of(auth_client.post("/api/v1/projects", {**SEED_000_BODY, "height": 1200}, format="json"))
    assert set(fields) == {"width", "height"} and "16:9" in fields["height"][0] and "1080" in fields["height"][0]


def test_a_film_body_gets_the_film_rules_and_a_thumbnail_field_on_a_film_is_unknown(auth_client):
    # Film projects in full: test_film_projects_api.py.
    response = auth_client.post("/api/v1/projects", {"kind": "film", "title": "My film", "scenes": []}, format="json")
    assert fields_of(response) == {"scenes": ["Between 1 and 30 scenes (got 0)."]}
    response = auth_client.post("/api/v1/projects", {"kind": "film", "title": "My film", "platform": "youtube",
                                                     "scenes": [{"narration": "Hi"}]}, format="json")
    assert fields_of(response) == {"platform": ["Unknown field."]}
    assert Project.objects.count() == 0


@pytest.mark.parametrize("body, field", [
    ({"platform": "myspace"}, "platform"),
    ({"vibe": "grunge"}, "vibe"),
    ({"height": 4000}, "width"),  # 16:9 → 7111 px wide: over 4096
    ({"width": 1920, "height": 1000}, "height"),
    ({"width": 320}, "width"),  # under YouTube's minimum
    ({"headline": ""}, "headline"),
    ({"kind": "film"}, "kind"),
    ({"owner": 1}, "owner"),
    ({"id": "00000000-0000-0000-0000-000000000000"}, "id"),
])
def test_bad_input_on_patch_and_put_is_a_400_and_changes_nothing(auth_client, body, field):
    project_id = auth_client.post("/api/v1/projects", SEED_000_BODY, format="json").json()["id"]
    before = snapshot()
    assert field in fields_of(auth_client.patch(f"/api/v1/projects/{project_id}", body, format="json"))
    assert field in fields_of(auth_client.put(f"/api/v1/projects/{project_id}", {**SEED_000_BODY, **body}, format="json"))
    assert snapshot() == before


def test_put_needs_the_full_body(auth_client):
    project_id = auth_client.post("/api/v1/projects", SEED_000_BODY, format="json").json()["id"]
    before = snapshot()
    assert set(fields_of(auth_client.put(f"/api/v1/projects/{project_id}", {"headline": "Only this"}, format="json"))) == {"platform"}
    assert snapshot() == before


def test_another_users_project_is_a_404_and_stays_as_it_was(auth_client, other_user):
    theirs = bearer_client(other_user).post("/api/v1/projects", SEED_000_BODY, format="json").json()["id"]
    before = snapshot()
    url = f"/api/v1/projects/{theirs}"
    assert auth_client.get(url).status_code == 404
    assert auth_client.patch(url, {"headline": "Mine now"}, format="json").status_code == 404
    assert auth_client.put(url, SEED_000_BODY, format="json").status_code == 404
    assert auth_client.delete(url).status_code == 404
    assert auth_client.get(url).json() == {"error": {"code": "not_found", "message": "Not found."}}
    assert auth_client.get("/api/v1/projects").json() == []
    assert snapshot() == before


def test_anonymous_callers_get_401_and_nothing_is_stored(api_client, user):
    project = Project.objects.create(owner=user, title="T", mode="design", platform="youtube", width=1280, height=720,
                                     headline="T", vibe="bold", model_pref="local")
    before = snapshot()
    url = f"/api/v1/projects/{project.id}"
    for response in (api_client.get("/api/v1/projects"), api_client.post("/api/v1/projects", SEED_000_BODY, format="json"),
                     api_client.get(url), api_client.patch(url, {"headline": "x"}, format="json"),
                     api_client.put(url, SEED_000_BODY, format="json"), api_client.delete(url)):
        assert response.status_code == 401 and response.json()["error"]["code"] == "not_authenticated"
    assert snapshot() == before


def test_list_is_the_callers_newest_first_paged_in_headers_and_filtered_by_kind(auth_client, user, other_user):
    ids = [auth_client.post("/api/v1/projects", {**SEED_000_BODY, "headline": f"Video {n}"}, format="json").json()["id"]
           for n in range(3)]
    bearer_client(other_user).post("/api/v1/projects", SEED_000_BODY, format="json")
    listed = auth_client.get("/api/v1/projects")
    assert [p["id"] for p in listed.json()] == ids[::-1] and listed["X-Total-Count"] == "3"
    auth_client.patch(f"/api/v1/projects/{ids[0]}", {"subtext": "touched"}, format="json")
    page = auth_client.get("/api/v1/projects/?page=1&page_size=2")
    assert [p["id"] for p in page.json()] == [ids[0], ids[2]] and 'rel="next"' in page["Link"]
    assert len(auth_client.get("/api/v1/projects?kind=thumbnail").json()) == 3
    assert auth_client.get("/api/v1/projects?kind=film").json() == []
    assert fields_of(auth_client.get("/api/v1/projects?kind=poster")) == {"kind": ['"poster" is not a valid choice.']}


def test_presets_list_platforms_vibes_quality_prices_and_the_film_choices(api_client):
    response = api_client.get("/api/v1/projects/presets")
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"platforms", "vibes", "limits", "quality_price_units", "variants", "film"}
    assert body["quality_price_units"] == {"std": 1, "hd": 2} and body["variants"] == {"min": 1, "max": 4}
    film = body["film"]
    assert {"code": "en-us", "name": film["voices"][[v["code"] for v in film["voices"]].index("en-us")]["name"],
            "gender": "male"} in film["voices"] and len(film["voices"]) > 20
    assert (film["default_voice"], film["voice_speed"], film["voice_pitch"]) == (
        "en-us", {"min": 80, "max": 400, "default": 165}, {"min": 0, "max": 99, "default": 50})
    assert (film["aspect_ratios"], film["resolutions"], film["subtitle_modes"]) == (
        ["16:9", "9:16", "1:1"], ["720p", "1080p"], ["burned", "file", "both"])
    assert (film["max_scenes"], film["max_narration_chars"], film["scene_duration_s"]) == (30, 600, {"min": 1, "max": 30})
    platforms = {p["key"]: p for p in body["platforms"]}
    assert set(platforms) == {"youtube", "youtube_shorts", "tiktok", "instagram_reels", "instagram_square",
                              "instagram_portrait", "x", "linkedin"}
    youtube = platforms["youtube"]
    assert (youtube["width"], youtube["height"], youtube["aspect"], youtube["min_width"], youtube["max_bytes"]) == (
        1280, 720, "16:9", 1280, 2 * 1024 * 1024)
    assert "duration_badge" in {zone["name"] for zone in youtube["keep_out"]}
    assert {zone["name"] for zone in platforms["tiktok"]["keep_out"]} == {"top_band", "bottom_band", "button_rail"}
    vibes = {v["key"]: v for v in body["vibes"]}
    assert {"professional", "bold", "playful", "dramatic", "minimal", "tech"} <= set(vibes)
    for vibe in vibes.values():
        assert set(vibe["palette"]) == {"background", "surface", "text", "accent", "outline"}
        assert all(len(c) == 7 and c.startswith("#") and int(c[1:], 16) >= 0 for c in [*vibe["palette"].values(), *vibe["accents"]])
        assert vibe["headline_font"] and vibe["headline_case"] in ("upper", "title")
    assert body["limits"] == {"min_side": 320, "max_side": 4096, "aspect_tolerance": 0.01}
    assert api_client.get("/api/v1/projects/presets/").json() == body


def test_projects_are_in_the_openapi_schema(client):
    paths = client.get("/api/v1/schema", HTTP_ACCEPT="application/json").json()["paths"]
    assert {"get", "post"} <= set(paths["/api/v1/projects"])
    assert {"get", "patch", "put", "delete"} <= set(paths["/api/v1/projects/{project_id}"])
    assert "get" in paths["/api/v1/projects/presets"]


def test_options_names_the_methods(auth_client, user):
    project = auth_client.post("/api/v1/projects", SEED_000_BODY, format="json").json()
    response = auth_client.options(f"/api/v1/projects/{project['id']}")
    assert response.status_code == 200
    assert {"GET", "PATCH", "PUT", "DELETE", "OPTIONS"} <= set(response.json()["methods"])
    assert auth_client.options("/api/v1/projects/presets").status_code == 200


def test_projects_go_with_their_owner(user, other_user):
    for owner in (user, other_user):
        bearer_client(owner).post("/api/v1/projects", SEED_000_BODY, format="json")
    user_delete(user=user)
    assert list(Project.objects.values_list("owner_id", flat=True)) == [other_user.pk]
