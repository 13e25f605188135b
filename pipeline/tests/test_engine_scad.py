"""The local text_to_3d / scad_render engines, run through the task code in this process."""

import io
import os
import signal
import time
from pathlib import Path

import pytest
import trimesh

from billing.services import credits_spendable
from mozukai_hub.testing.polling import wait_until
from pipeline import tasks
from pipeline.engines.scad.requirements import requirements_from_prompt
from pipeline.models import Asset, Job, JobEvent


def spendable(user) -> int:
    return credits_spendable(user=user, client_ip="127.0.0.1")


@pytest.mark.parametrize(
    "prompt, model_type, dims",
    [
        ("a bonsai pot 120 mm wide, 40 mm tall, with a drainage hole", "bonsai_pot", {"width": 120, "height": 40}),
        ("Planter tray 30 cm long and 8cm deep", "planter_tray", {"length": 300, "depth": 80}),
        ("enclosure box 100x60x40 mm", "enclosure_box", {"width": 100, "depth": 60, "height": 40}),
        ("a shelf bracket, width of 2 in", "bracket", {"width": 50.8}),
        ("small quadcopter frame, 3 mm thick arms, 160 mm motor-to-motor", "quadcopter_frame", {"thickness": 3, "span": 160}),
        ("a red chair", "chair", {}),
        ("a bar stool 75 cm tall", "chair", {"height": 750}),
        ("a chair with seat height of 40 cm, 90 cm tall", "chair", {"seat_height": 400, "height": 900}),
        ("a white desk 120 x 60 x 75 cm", "table", {"width": 1200, "depth": 600, "height": 750}),
        ("a dining table 2 m long", "table", {"length": 2000}),
        ("a bookcase 80 cm wide, 180 cm tall with 5 shelves", "shelf", {"width": 800, "height": 1800}),
        ("a book case", "shelf", {}),
        ("a tall green vase, 10 cm diameter and 25 cm high", "vase", {"width": 100, "height": 250}),
        ("a blue coffee mug", "vase", {}),
        ("a red dragon", None, {}),
        ("a cupboard", None, {}),
    ],
)
def test_requirements_from_prompt(prompt, model_type, dims):
    found = requirements_from_prompt(prompt)
    assert found["model_type"] == model_type
    assert found["dimensions"] == dims


@pytest.mark.parametrize(
    "prompt, features",
    [
        ("a red chair", {}),
        ("a bar stool", {"backrest": False}),
        ("a stool with a backrest", {}),
        ("a bookcase with five shelves", {"shelves": 5}),
        ("a vase", {"vessel": "vase"}),
        ("a teacup", {"vessel": "cup"}),
        ("a mug", {"vessel": "mug"}),
    ],
)
def test_furniture_and_vessel_features_from_prompt(prompt, features):
    assert requirements_from_prompt(prompt)["features"] == features


def test_impossible_shelf_count_is_bad_dimensions():
    from mozukai_hub.api.errors import ApplicationError
    from pipeline.engines.scad.templates import model_from_requirements

    with pytest.raises(ApplicationError, match="40 shelves do not fit"):
        model_from_requirements(requirements_from_prompt("a bookcase 180 cm tall with 40 shelves"))


def _download(client, job_id, fmt):
    link = client.get(f"/api/v1/jobs/{job_id}/download-url?asset_type={fmt}")
    assert link.status_code == 200, link.content
    response = client.get(link.json()["url"])
    assert response.status_code == 200
    return b"".join(response.streaming_content)


@pytest.mark.django_db(transaction=True)
def test_pot_prompt_to_watertight_glb_of_requested_size(auth_client, funded_user):
    before = spendable(funded_user)
    job_id = auth_client.post(
        "/api/v1/jobs", {"prompt": "a bonsai pot 120 mm wide, 40 mm tall, with a drainage hole", "output_format": "glb"},
        format="json",
    ).json()["id"]
    assert tasks.job_run(job_id) == "completed"
    job = Job.objects.get(pk=job_id)
    assert job.status == "completed" and job.progress == 100 and job.attempts == 1
    assert job.result["mesh"]["watertight"] is True
    assert job.result["mesh"]["bbox_mm"] == pytest.approx([120, 120, 40], abs=0.5)
    assert spendable(funded_user) == before - 1 and job.credits_state == "settled"
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
    # OpenSCAD's own output, streamed through the sandbox into the job's log for staff
    logged = [e.data["message"] for e in JobEvent.objects.filter(job=job, type="log").order_by("seq")]
    assert any(m.startswith("openscad:\n") and "Total rendering time" in m for m in logged)
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


def _horizontal_area(mesh, z, up):
    """Area of the faces lying flat at height z, facing up (+Z) or down (-Z)."""
    flat = (abs(mesh.triangles_center[:, 2] - z) < 0.01) & (mesh.face_normals[:, 2] * (1 if up else -1) > 0.99)
    return float(mesh.area_faces[flat].sum())


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    "prompt, template, bbox",
    [
        ("a red chair", "chair", [450, 450, 850]),  # seed 001's documented example
        ("a bar stool 75 cm tall", "chair", [450, 450, 750]),
        ("a dollhouse chair 60 mm tall", "chair", [31.8, 31.8, 60]),
        ("a desk 120 x 60 x 75 cm", "table", [1200, 600, 750]),
        ("a table", "table", [1200, 750, 750]),
        ("a bookcase 80 cm wide, 180 cm tall with 5 shelves", "shelf", [800, 300, 1800]),
        ("a vase 10 cm diameter, 20 cm tall", "vase", [100, 100, 200]),
        ("a cup 8 cm wide, 9 cm tall", "vase", [80, 80, 90]),
        ("a coffee mug", "vase", [107.2, 80, 95]),  # the handle sticks out along +X
    ],
)
def test_furniture_and_vessel_templates_render_closed_meshes_of_requested_size(auth_client, user, settings, prompt, template, bbox):
    from .conftest import grant

    settings.OPENSCAD_MAX_FN = 32  # keeps the curved ones quick
    grant(user, 1)
    job_id = auth_client.post("/api/v1/jobs", {"prompt": prompt, "output_format": "glb"}, format="json").json()["id"]
    assert tasks.job_run(job_id) == "completed", Job.objects.get(pk=job_id).error
    job = Job.objects.get(pk=job_id)
    assert job.result["template"] == template
    assert job.result["mesh"]["watertight"] is True
    assert job.result["mesh"]["bbox_mm"] == pytest.approx(bbox, abs=0.5)
    assert job.result["expected_bbox_mm"] == pytest.approx(bbox, abs=0.5)
    if template == "vase":  # hollow, with a closed bottom and an open top
        stl = trimesh.load(io.BytesIO(_download(auth_client, job_id, "stl")), file_type="stl", force="mesh")
        bottom, height = job.result["parameters"]["bottom"], bbox[2]
        floor = _horizontal_area(stl, bottom, up=True)
        assert floor > 0 and _horizontal_area(stl, 0, up=False) > floor
        assert _horizontal_area(stl, height, up=True) < floor  # only the rim: the top is open
        assert stl.volume < 0.5 * 3.1416 * (bbox[1] / 2) ** 2 * height


@pytest.mark.django_db(transaction=True)
def test_unsupported_prompt_fails_uncharged(auth_client, funded_user):
    before = spendable(funded_user)
    job_id = auth_client.post("/api/v1/jobs", {"prompt": "a red dragon"}, format="json").json()["id"]
    assert tasks.job_run(job_id) == "failed"
    job = Job.objects.get(pk=job_id)
    assert job.status == "failed" and job.error_type == "unsupported_prompt"
    assert "bonsai pot" in job.error and "chair" in job.error
    assert spendable(funded_user) == before and job.credits_state == "released"
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
def test_empty_model_fails_with_openscads_reason(auth_client, user):
    job_id = auth_client.post("/api/v1/jobs", {"kind": "scad_render", "params": {"scad": "cube(0);"}}, format="json").json()["id"]
    assert tasks.job_run(job_id) == "failed"
    job = Job.objects.get(pk=job_id)
    assert job.error_type == "scad_error" and job.error == "OpenSCAD failed: Current top level object is empty."
    assert not Asset.objects.filter(job=job, asset_type__in=["stl", "glb"]).exists()


@pytest.mark.django_db(transaction=True)
def test_openscad_timeout_fails_job(auth_client, user, settings):
    settings.OPENSCAD_TIMEOUT_SECONDS = 1
    settings.OPENSCAD_MAX_COST = 10**12  # past the estimate's budget: the run-time limit is what is tested
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


def _openscad_child_running() -> bool:
    """An `openscad` process started by this test process (under prlimit, which execs it)."""
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:  # it ended meanwhile
            continue
        name, after = text[text.index("(") + 1:text.rindex(")")], text[text.rindex(")") + 2:].split()
        if name == "openscad" and int(after[1]) == os.getpid():
            return True
    return False


@pytest.mark.django_db(transaction=True)
def test_cancel_stops_a_running_openscad(auth_client, user, settings):
    import threading

    from pipeline import services

    settings.OPENSCAD_MAX_COST = 10**12  # past the estimate's budget: cancelling a long run is what is tested

    heavy = "for (i = [0:60]) for (j = [0:60]) translate([i * 3, j * 3, 0]) sphere(r = 2, $fn = 96);"
    job_id = auth_client.post("/api/v1/jobs", {"kind": "scad_render", "params": {"scad": heavy}}, format="json").json()["id"]
    outcome = []
    runner = threading.Thread(target=lambda: outcome.append(tasks.job_run(job_id)))
    runner.start()
    wait_until(lambda: Job.objects.filter(pk=job_id, stage="openscad").exists(), 10)
    wait_until(_openscad_child_running, 10, message="OpenSCAD never started")  # cancel a program that runs
    services.job_cancel(job=Job.objects.get(pk=job_id))
    cancelled_at = time.monotonic()
    runner.join(timeout=10)
    assert outcome == ["aborted"] and time.monotonic() - cancelled_at < 3
    assert Job.objects.get(pk=job_id).status == "cancelled"
    assert not Asset.objects.filter(job_id=job_id, asset_type__in=["stl", "glb"]).exists()


def test_openscad_runs_with_resource_limits_in_its_own_session(settings, tmp_path):
    """A stand-in for the OpenSCAD binary (outside our code) reports the limits it was started with."""
    from pipeline.engines import EngineError
    from pipeline.engines.scad.render import openscad_render

    fake = tmp_path / "openscad"
    fake.write_text(
        "#!/bin/sh\n"
        'echo "as=$(ulimit -v) cpu=$(ulimit -t) fsize=$(ulimit -f) sid=$(ps -o sid= -p $$ | tr -d \' \')" >&2\n'
        "exit 1\n"
    )
    fake.chmod(0o755)
    settings.OPENSCAD_BINARY = str(fake)
    scad = tmp_path / "model.scad"
    scad.write_text("cube(1);")
    with pytest.raises(EngineError) as failure:
        openscad_render(scad_path=scad, stl_path=tmp_path / "model.stl", timeout=7)
    reported = dict(pair.split("=") for pair in str(failure.value).removeprefix("OpenSCAD failed: ").split())
    assert reported["as"] == str(2 * 1024 * 1024)  # KiB
    assert reported["cpu"] == "12"
    assert reported["fsize"] == str(200 * 1024 * 1024 // 512)  # 512-byte blocks in POSIX sh
    assert reported["sid"] != str(os.getsid(0))


def test_cancel_kills_openscads_whole_process_group(settings, tmp_path):
    from pipeline.engines.scad.render import openscad_render

    pid_file = tmp_path / "child.pid"
    fake = tmp_path / "openscad"
    fake.write_text(f"#!/bin/sh\nsleep 60 &\necho $! > {pid_file}\nwait\n")
    fake.chmod(0o755)
    settings.OPENSCAD_BINARY = str(fake)
    scad = tmp_path / "model.scad"
    scad.write_text("cube(1);")

    class Cancelled(Exception):
        pass

    def cancel():
        if pid_file.exists() and pid_file.read_text().strip():
            raise Cancelled

    with pytest.raises(Cancelled):
        openscad_render(scad_path=scad, stl_path=tmp_path / "model.stl", timeout=20, while_waiting=cancel)
    child = int(pid_file.read_text())

    def gone() -> bool:
        try:
            os.kill(child, 0)
        except ProcessLookupError:
            return True
        return False

    try:
        wait_until(gone, 2.5, message="the grandchild survived the cancel")
    finally:
        if not gone():
            os.kill(child, signal.SIGKILL)


@pytest.mark.django_db(transaction=True)
def test_job_context_logs_a_chatty_program_in_a_few_readable_events(auth_client, user, tmp_path):
    """5000 lines and terminal colours become a handful of `log` events: the first lines, a note
    of what was skipped, and the last lines."""
    import sys
    import uuid

    from pipeline import services
    from pipeline.runner import JobContext, ProgramLog

    job_id = auth_client.post("/api/v1/jobs", {"kind": "scad_render", "params": {"scad": "cube(1);"}}, format="json").json()["id"]
    token = uuid.uuid4()
    job = services.job_claim(job_id=job_id, lease_token=token)
    chatty = "print('\\x1b[31mred\\x1b[0m\\tline'); [print(f'line {i}') for i in range(5000)]; raise SystemExit(2)"
    with JobContext(job, token) as ctx:
        result = ctx.run_program([sys.executable, "-c", chatty], timeout_seconds=30, memory_bytes=1024**3, file_bytes=1024**2)
        assert ctx.workdir.exists()
    assert result.returncode == 2 and result.output_tail.endswith("line 4999")
    events = [e.data["message"] for e in JobEvent.objects.filter(job_id=job_id, type="log").order_by("seq")]
    assert 2 <= len(events) <= 8 and all(len(m) <= 2000 and m.startswith("python") for m in events)
    lines = [line for m in events for line in m.split("\n")[1:]]
    kept = ProgramLog.MAX_LINES - 1
    skipped = 5000 - kept - ProgramLog.TAIL_LINES
    assert lines[:3] == ["red  line", "line 0", "line 1"] and lines[ProgramLog.MAX_LINES - 1] == f"line {kept - 1}"
    assert lines[ProgramLog.MAX_LINES] == f"… {skipped} lines not logged …"
    assert lines[-1] == "line 4999" and len(lines) == ProgramLog.MAX_LINES + 1 + ProgramLog.TAIL_LINES
