"""The local text_to_3d / scad_render engines, run through the task code in this process."""

import io

import pytest
import trimesh

from pipeline import tasks
from pipeline.engines.scad.requirements import requirements_from_prompt
from pipeline.models import Asset, Job, JobEvent

from .conftest import balance


@pytest.mark.parametrize(
    "prompt, model_type, dims",
    [
        ("a bonsai pot 120 mm wide, 40 mm tall, with a drainage hole", "bonsai_pot", {"width": 120, "height": 40}),
        ("Planter tray 30 cm long and 8cm deep", "planter_tray", {"length": 300, "depth": 80}),
        ("enclosure box 100x60x40 mm", "enclosure_box", {"width": 100, "depth": 60, "height": 40}),
        ("a shelf bracket, width of 2 in", "bracket", {"width": 50.8}),
        ("small quadcopter frame, 3 mm thick arms, 160 mm motor-to-motor", "quadcopter_frame", {"thickness": 3, "span": 160}),
        ("a red chair", None, {}),
    ],
)
def test_requirements_from_prompt(prompt, model_type, dims):
    found = requirements_from_prompt(prompt)
    assert found["model_type"] == model_type
    assert found["dimensions"] == dims


def _download(client, job_id, fmt):
    link = client.get(f"/api/v1/jobs/{job_id}/download-url?asset_type={fmt}")
    assert link.status_code == 200, link.content
    response = client.get(link.json()["url"])
    assert response.status_code == 200
    return b"".join(response.streaming_content)


@pytest.mark.django_db(transaction=True)
def test_pot_prompt_to_watertight_glb_of_requested_size(auth_client, funded_user):
    job_id = auth_client.post(
        "/api/v1/jobs", {"prompt": "a bonsai pot 120 mm wide, 40 mm tall, with a drainage hole", "output_format": "glb"},
        format="json",
    ).json()["id"]
    assert tasks.job_run(job_id) == "completed"
    job = Job.objects.get(pk=job_id)
    assert job.status == "completed" and job.progress == 100 and job.attempts == 1
    assert job.result["mesh"]["watertight"] is True
    assert job.result["mesh"]["bbox_mm"] == pytest.approx([120, 120, 40], abs=0.5)
    assert balance(funded_user) == 9 and job.credits_state == "settled"
    assert sorted(Asset.objects.filter(job=job).values_list("asset_type", flat=True)) == ["glb", "scad", "stl"]
    assert Asset.objects.get(job=job, is_primary=True).asset_type == "glb"

    glb = trimesh.load(io.BytesIO(_download(auth_client, job_id, "glb")), file_type="glb", force="mesh")
    assert glb.is_watertight
    # glTF is Y-up in metres: width on X and Z, height on Y.
    assert glb.extents == pytest.approx([0.120, 0.040, 0.120], abs=0.001)
    stl = trimesh.load(io.BytesIO(_download(auth_client, job_id, "stl")), file_type="stl")
    assert stl.extents == pytest.approx([120, 120, 40], abs=0.5)

    types = list(JobEvent.objects.filter(job=job).order_by("seq").values_list("type", flat=True))
    assert types.count("output") == 3 and types[-1] == "status"
    progress = [e.data["progress"] for e in JobEvent.objects.filter(job=job, type="progress").order_by("seq")]
    assert progress == sorted(progress)
    assert tasks.job_run(job_id) == "not claimable"  # a second delivery changes nothing
    assert Asset.objects.filter(job=job).count() == 3


@pytest.mark.django_db(transaction=True)
def test_every_template_renders_a_closed_mesh(auth_client, user):
    from .conftest import grant

    grant(user, 10)
    for prompt in ["planter tray 200 mm wide", "enclosure box 80x50x30 mm", "bracket 40 mm wide",
                   "quadcopter frame 160 mm motor-to-motor", "rectangular bonsai pot 150 mm wide 50 mm tall"]:
        job_id = auth_client.post("/api/v1/jobs", {"prompt": prompt, "output_format": "stl"}, format="json").json()["id"]
        assert tasks.job_run(job_id) == "completed", Job.objects.get(pk=job_id).error
        job = Job.objects.get(pk=job_id)
        assert job.result["mesh"]["watertight"], prompt
        assert job.result["mesh"]["bbox_mm"] == pytest.approx(job.result["expected_bbox_mm"], abs=1.0), prompt
        assert Asset.objects.get(job=job, is_primary=True).asset_type == "stl"


@pytest.mark.django_db(transaction=True)
def test_unsupported_prompt_fails_uncharged(auth_client, funded_user):
    job_id = auth_client.post("/api/v1/jobs", {"prompt": "a red chair"}, format="json").json()["id"]
    assert tasks.job_run(job_id) == "failed"
    job = Job.objects.get(pk=job_id)
    assert job.status == "failed" and job.error_type == "unsupported_prompt" and "bonsai pot" in job.error
    assert balance(funded_user) == 10 and job.credits_state == "released"
    assert not Asset.objects.filter(job=job).exists()


@pytest.mark.django_db(transaction=True)
def test_scad_render_and_broken_scad(auth_client, user):
    ok = auth_client.post("/api/v1/jobs", {"kind": "scad_render", "params": {"scad": "cube([20, 10, 5]);"}}, format="json")
    assert tasks.job_run(ok.json()["id"]) == "completed"
    assert Job.objects.get(pk=ok.json()["id"]).result["mesh"]["bbox_mm"] == pytest.approx([20, 10, 5])
    broken = auth_client.post("/api/v1/jobs", {"kind": "scad_render", "params": {"scad": "cube([20, 10, 5]"}}, format="json")
    assert tasks.job_run(broken.json()["id"]) == "failed"
    assert Job.objects.get(pk=broken.json()["id"]).error_type == "scad_error"


@pytest.mark.django_db(transaction=True)
def test_openscad_timeout_fails_job(auth_client, user, settings):
    settings.OPENSCAD_TIMEOUT_SECONDS = 1
    heavy = "for (i = [0:60]) for (j = [0:60]) translate([i * 3, j * 3, 0]) sphere(r = 2, $fn = 96);"
    job_id = auth_client.post("/api/v1/jobs", {"kind": "scad_render", "params": {"scad": heavy}}, format="json").json()["id"]
    assert tasks.job_run(job_id) == "failed"
    assert Job.objects.get(pk=job_id).error_type == "timeout"


@pytest.mark.django_db(transaction=True)
def test_engine_missing_on_worker_fails_at_once(auth_client, user):
    job_id = auth_client.post("/api/v1/jobs", {"kind": "scad_render", "params": {"scad": "cube(1);"}}, format="json").json()["id"]
    Job.objects.filter(pk=job_id).update(engine="retired")
    assert tasks.job_run(job_id) == "failed"
    job = Job.objects.get(pk=job_id)
    assert job.error_type == "engine_unavailable" and job.attempts == 1


@pytest.mark.django_db(transaction=True)
def test_cancel_stops_a_running_openscad(auth_client, user):
    import threading
    import time

    from pipeline import services

    heavy = "for (i = [0:60]) for (j = [0:60]) translate([i * 3, j * 3, 0]) sphere(r = 2, $fn = 96);"
    job_id = auth_client.post("/api/v1/jobs", {"kind": "scad_render", "params": {"scad": heavy}}, format="json").json()["id"]
    outcome = []
    runner = threading.Thread(target=lambda: outcome.append(tasks.job_run(job_id)))
    runner.start()
    deadline = time.monotonic() + 10
    while not Job.objects.filter(pk=job_id, stage="openscad").exists():
        assert time.monotonic() < deadline
        time.sleep(0.05)
    time.sleep(0.3)
    services.job_cancel(job=Job.objects.get(pk=job_id))
    cancelled_at = time.monotonic()
    runner.join(timeout=10)
    assert outcome == ["aborted"] and time.monotonic() - cancelled_at < 3
    assert Job.objects.get(pk=job_id).status == "cancelled"
    assert not Asset.objects.filter(job_id=job_id, asset_type__in=["stl", "glb"]).exists()
