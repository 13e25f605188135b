"""Jobs made from projects (`POST /jobs {project_id, quality, variants, model}`, seed 000): the
params snapshot of contract section 1, the price, ownership, the engine choice, and the results
(`outputs` with signed URLs, `GET /assets?job_id=`, the project's latest jobs)."""

import io

import pytest
from PIL import Image

from mozukai_hub.testing.fixtures import bearer_client
from pipeline.models import Job
from pipeline.tasks import job_run
from pipeline.tests.conftest import grant, spendable
from studio import services
from studio.models import Project
from studio.tests.engines import NAME as TEST_ENGINE

pytestmark = pytest.mark.django_db

PROJECT = {"mode": "design", "platform": "youtube", "width": 1920, "height": 1080, "headline": "Title",
           "subtext": "Subtitle", "vibe": "professional", "model_pref": "nano_banana"}


def png(colour="#aa5500") -> io.BytesIO:
    out = io.BytesIO()
    Image.new("RGB", (64, 64), colour).save(out, format="PNG")
    out.name = "in.png"
    out.seek(0)
    return out


@pytest.fixture
def project(auth_client, user):
    grant(user, 20)
    return auth_client.post("/api/v1/projects", PROJECT, format="json").json()


def fields_of(response) -> dict:
    assert response.status_code == 400, response.content
    return response.json()["error"]["fields"]


@pytest.mark.django_db(transaction=True)  # the worker's lease keeper uses its own connection
def test_seed_000_job_snapshot_price_run_and_results(auth_client, api_client, user, project, thumb_test_engine):
    ids = {role: auth_client.post("/api/v1/assets/upload", {"file": png(), "type": role, "project_id": project["id"]},
                                  format="multipart").json()["id"] for role in ("selfie", "ref")}
    before = spendable(user)
    created = auth_client.post("/api/v1/jobs/", {"project_id": project["id"], "quality": "std", "variants": 2,
                                                 "model": TEST_ENGINE}, format="json")
    assert created.status_code == 201, created.content
    job = created.json()
    assert (job["status"], job["cost_credits"], job["kind"], job["engine"]) == ("queued", 2, "thumbnail", TEST_ENGINE)
    assert job["params"] == {
        "project_id": project["id"], "title": "Title", "mode": "design", "platform": "youtube", "width": 1920,
        "height": 1080, "headline": "Title", "subtext": "Subtitle", "vibe": "professional", "quality": "std",
        "variants": 2, "inputs": {"selfie": ids["selfie"], "ref": ids["ref"], "copy_target": None}}
    assert spendable(user) == before - 2

    # A snapshot: editing the project afterwards does not change the job.
    auth_client.patch(f"/api/v1/projects/{project['id']}", {"headline": "Updated Title"}, format="json")
    assert Job.objects.get(pk=job["id"]).params["headline"] == "Title"

    assert job_run(job["id"]) == "completed"
    done = auth_client.get(f"/api/v1/jobs/{job['id']}").json()
    assert done["status"] == "completed"
    variants = done["result"]["variants"]
    assert [v["variant"] for v in variants] == [1, 2] and all(v["report"]["legible_at_168x94"] for v in variants)
    outputs = {o["id"]: o for o in done["outputs"]}
    assert set(outputs) == {v["png_asset_id"] for v in variants}
    for variant in variants:
        served = api_client.get(outputs[variant["png_asset_id"]]["url"])  # signed: no credentials
        assert served.status_code == 200
        assert Image.open(io.BytesIO(b"".join(served.streaming_content))).size == (1920, 1080)
    assert outputs[variants[0]["png_asset_id"]]["is_primary"]
    listed = auth_client.get(f"/api/v1/assets?job_id={job['id']}").json()
    assert {a["id"] for a in listed} == set(outputs)

    shown = auth_client.get(f"/api/v1/projects/{project['id']}").json()["jobs"]
    assert [(j["id"], j["status"], j["cost_credits"]) for j in shown] == [(job["id"], "completed", 2)]
    other = auth_client.post("/api/v1/projects", {**PROJECT, "headline": "Other"}, format="json").json()
    auth_client.post("/api/v1/jobs", {"project_id": other["id"], "model": TEST_ENGINE}, format="json")
    assert [j["id"] for j in auth_client.get(f"/api/v1/jobs?project_id={project['id']}").json()] == [job["id"]]


def test_hd_costs_twice_and_defaults_are_std_with_one_variant(auth_client, project, thumb_test_engine):
    hd = auth_client.post("/api/v1/jobs", {"project_id": project["id"], "quality": "hd", "variants": 3,
                                           "model": TEST_ENGINE}, format="json").json()
    assert hd["cost_credits"] == 6 and hd["params"]["quality"] == "hd"
    plain = auth_client.post("/api/v1/jobs", {"project_id": project["id"], "engine": TEST_ENGINE}, format="json").json()
    assert (plain["cost_credits"], plain["params"]["quality"], plain["params"]["variants"]) == (1, "std", 1)


@pytest.mark.parametrize("body, field", [
    ({"variants": 0}, "variants"),
    ({"variants": 5}, "variants"),
    ({"quality": "ultra"}, "quality"),
    ({"kind": "thumbnail"}, "kind"),
    ({"params": {"headline": "x"}}, "params"),
    ({"prompt": "a cat"}, "prompt"),
    ({"project_id": "not-a-uuid"}, "project_id"),
])
def test_bad_job_requests_name_the_field_and_create_nothing(auth_client, user, project, thumb_test_engine, body, field):
    before = spendable(user)
    assert field in fields_of(auth_client.post("/api/v1/jobs", {"project_id": project["id"], "model": TEST_ENGINE, **body},
                                               format="json"))
    assert Job.objects.count() == 0 and spendable(user) == before


def test_quality_and_variants_need_a_project(auth_client, user):
    assert set(fields_of(auth_client.post("/api/v1/jobs", {"kind": "scad_render", "params": {"scad": "cube(1);"},
                                                           "quality": "hd", "variants": 2}, format="json"))) == {
        "quality", "variants"}
    assert Job.objects.count() == 0


def test_an_unknown_engine_is_a_400_naming_the_available_ones(auth_client, user, project, thumb_test_engine):
    before = spendable(user)
    response = auth_client.post("/api/v1/jobs", {"project_id": project["id"], "model": "dall-e"}, format="json")
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert error["code"] == "unknown_engine" and "available:" in error["message"] and TEST_ENGINE in error["message"]
    assert Job.objects.count() == 0 and spendable(user) == before


def test_another_users_project_is_a_404_and_nothing_is_spent(auth_client, user, other_user, thumb_test_engine):
    grant(user, 5)
    theirs = bearer_client(other_user).post("/api/v1/projects", PROJECT, format="json").json()["id"]
    before = spendable(user)
    for project_id in (theirs, "00000000-0000-4000-8000-000000000000"):
        response = auth_client.post("/api/v1/jobs", {"project_id": project_id, "model": TEST_ENGINE}, format="json")
        assert response.status_code == 404 and response.json()["error"]["code"] == "not_found"
    assert Job.objects.count() == 0 and spendable(user) == before


def test_a_film_projects_job_params_are_its_snapshot(user):
    film = services.film_project_create(owner=user, title="Lakes", voice_pitch=60, scenes=[
        {"narration": "One.", "visual": "Mist", "duration_s": 2}])
    assert services.project_job_params(project=film, options={}) == ("film", {
        "project_id": str(film.pk), "title": "Lakes", "vibe": "professional", "aspect_ratio": "16:9",
        "resolution": "720p", "voice": "en-us", "voice_speed": 165, "voice_pitch": 60, "subtitles": "both",
        "scenes": [{"narration": "One.", "visual": "Mist", "duration_s": 2, "image_asset_id": None}]})
    with pytest.raises(Exception) as refused:
        services.project_job_params(project=film, options={"variants": 2})
    assert "variants" in refused.value.message_dict
    assert Project.objects.get(pk=film.pk).scenes[0]["duration_s"] == 2


@pytest.mark.django_db(transaction=True)
def test_seed_000_curls_as_written_with_the_real_local_engine(auth_client, api_client, user):
    """Seed 000's project body and job body with `"model": "local"`: two different PNGs at
    exactly the project's size and a JPEG under 2 MB each (YouTube), rendered by studio.thumbnail."""
    grant(user, 10)
    project = auth_client.post("/api/v1/projects/", PROJECT, format="json").json()
    created = auth_client.post("/api/v1/jobs/", {"project_id": project["id"], "quality": "std", "variants": 2,
                                                 "model": "local"}, format="json")
    assert created.status_code == 201, created.content
    assert (created.json()["status"], created.json()["cost_credits"], created.json()["engine"]) == ("queued", 2, "local")
    assert job_run(created.json()["id"]) == "completed"
    job = auth_client.get(f"/api/v1/jobs/{created.json()['id']}").json()
    outputs = {o["id"]: o for o in job["outputs"]}
    pngs = []
    for variant in job["result"]["variants"]:
        data = b"".join(api_client.get(outputs[variant["png_asset_id"]]["url"]).streaming_content)
        assert Image.open(io.BytesIO(data)).size == (1920, 1080)
        pngs.append(data)
        assert outputs[variant["jpg_asset_id"]]["size"] < 2 * 1024 * 1024
        assert variant["report"]["contrast_ratio"] >= 4.5
    assert len(pngs) == 2 and pngs[0] != pngs[1]


def test_seed_000_nano_banana_without_a_gemini_key_is_a_400_naming_the_available_engines(auth_client, user, settings):
    settings.GEMINI_API_KEY = ""
    project = auth_client.post("/api/v1/projects/", PROJECT, format="json").json()
    before = spendable(user)
    response = auth_client.post("/api/v1/jobs/", {"project_id": project["id"], "quality": "std", "variants": 2,
                                                  "model": "nano_banana"}, format="json")
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert error["code"] == "engine_unconfigured" and "available: " in error["message"] and "local" in error["message"]
    assert "nano_banana" not in error["message"].split("available: ")[1]  # never a silent substitute either
    assert Job.objects.count() == 0 and spendable(user) == before


def test_a_job_without_model_is_rendered_by_the_default_engine(auth_client, user, settings):
    """Issue 11: `model` picks the engine, `local` by default (seed 000's project asks for
    nano_banana in `model_pref`; a job naming nano_banana without a key is the 400 above)."""
    settings.GEMINI_API_KEY = ""
    grant(user, 20)
    project = auth_client.post("/api/v1/projects", PROJECT, format="json").json()
    created = auth_client.post("/api/v1/jobs", {"project_id": project["id"], "quality": "std", "variants": 1},
                               format="json")
    assert created.status_code == 201, created.content
    assert Job.objects.get(pk=created.json()["id"]).engine == "local"
