"""A person on /pipeline/: drops a rendered set of photos, sees each photo checked, builds the
model, follows its stages live and looks at it in 3D (daphne + a django-q2 worker running COLMAP).

This is the test set's one full reconstruction: once the person has seen the model, the same job
is checked through the API against the truth the scene was rendered from (every view registered,
focal length within 2 %, camera centres after a similarity alignment, a coloured Y-up GLB, PLY)."""

import io
from pathlib import Path

import numpy as np
import pytest
import trimesh
from playwright.sync_api import sync_playwright

from mozukai_hub.testing.fixtures import PASSWORD
from pipeline.models import Job, JobEvent

from .conftest import spendable
from .photogrammetry_scene import centres_error, scene, scene_files  # noqa: F401 (fixture)
from .test_browser import CHROMIUM, stack  # noqa: F401 (fixture)

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_person_uploads_a_rendered_set_and_sees_the_model(stack, funded_user, scene, api_client):  # noqa: F811
    if not Path(CHROMIUM).exists():
        pytest.fail("Chromium is needed at /usr/bin/chromium (apt-get install chromium).")
    directory, truth = scene
    views = len(truth.names)
    credits = spendable(funded_user)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--use-gl=swiftshader", "--enable-unsafe-swiftshader"])
        page = browser.new_page()
        errors = []
        page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
        page.goto(f"{stack}/accounts/login/")
        page.fill("input[name=login]", funded_user.email)
        page.fill("input[name=password]", PASSWORD)
        page.locator("main form button").first.click()
        page.goto(f"{stack}/pipeline/")
        page.set_input_files("#pg-files", [str(p) for p in scene_files(directory, truth)])
        page.wait_for_selector(f"#pg-summary >> text=All {views} photos passed the checks.", timeout=60000)
        assert page.locator("#pg-thumbs li.good").count() == views
        page.fill("#pg-name", "Rendered bonsai")
        page.click("#pg-submit")
        page.wait_for_selector("#pg-stages li[data-stage=matching]", timeout=120000)  # live, over the websocket
        page.wait_for_selector("#pg-status >> text=completed", timeout=300000)
        page.wait_for_function("() => document.querySelector('#pg-viewer')?.loaded === true", timeout=60000)  # a function: CSP refuses eval
        stages = page.locator("#pg-stages li").evaluate_all("items => items.map(i => i.dataset.stage)")
        words = page.locator("#pg-quality-text").inner_text()
        downloads = page.locator(".downloads a").evaluate_all("links => links.map(a => a.getAttribute('href'))")
        browser.close()
    assert {"features", "matching", "mapping", "meshing"} <= set(stages)
    assert f"{views} of {views} photos were placed in 3D" in words
    assert downloads[0].endswith("?format=glb") and downloads[1].endswith("?format=ply")
    assert spendable(funded_user) == credits - 3
    assert not [e for e in errors if "Content Security Policy" in e]

    # The same job through the API, against the truth.
    job = Job.objects.get(owner=funded_user, kind="photogrammetry")
    api_client.force_authenticate(funded_user)
    status = api_client.get(f"/api/v1/pipeline/status/{job.pk}").json()
    quality = status["quality"]
    assert (status["status"], status["error"], status["name"], status["draft"]) == ("completed", "", "Rendered bonsai", True)
    assert quality["registered_images"] == quality["total_images"] == views
    assert abs(quality["focal_px"] - truth.focal_px) / truth.focal_px < 0.02
    assert quality["points"] > 500 and quality["mean_reprojection_error_px"] < 1.0 and quality["mean_track_length"] > 2
    assert centres_error(job.result["cameras"], truth) < 0.02
    progress = {e.data.get("stage") for e in JobEvent.objects.filter(job=job, type="progress")}
    assert {"features", "matching", "mapping", "meshing"} <= progress and job.credits_state == "settled"

    glb_redirect = api_client.get(f"/api/v1/pipeline/download/{job.pk}")  # GLB by default
    assert glb_redirect.status_code == 302
    glb = b"".join(api_client.get(glb_redirect["Location"]).streaming_content)
    mesh = trimesh.load(io.BytesIO(glb), file_type="glb", force="mesh")
    assert len(mesh.faces) > 500 and mesh.visual.kind == "vertex"
    colours = np.asarray(mesh.visual.vertex_colors)[:, :3].astype(int)
    assert colours.std(axis=0).min() > 10  # coloured from the photos, not one flat colour
    low, high = mesh.bounds
    assert abs(low[1]) < 1e-6 and max(high[0] - low[0], high[2] - low[2]) == pytest.approx(1.0, abs=1e-3)
    assert 0.2 < high[1] - low[1] < 1.0  # Y is up: the tree stands on its ground patch
    ply_redirect = api_client.get(f"/api/v1/pipeline/download/{job.pk}?format=ply")
    ply = b"".join(api_client.get(ply_redirect["Location"]).streaming_content)
    assert ply.startswith(b"ply") and len(trimesh.load(io.BytesIO(ply), file_type="ply").vertices) == len(mesh.vertices)
