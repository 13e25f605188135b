"""Seed 004's photogrammetry through the API and the task code: failures that return credits, cancel,
products. (The full reconstruction checked against the truth is test_photogrammetry_browser.)"""

import io
import threading
import time
import uuid
from pathlib import Path

import numpy as np
import pytest
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from catalog.models import Category, Product
from mozukai_hub.testing.polling import wait_until
from pipeline import services, tasks
from pipeline.models import Asset, Job

from .conftest import grant, spendable
from .photogrammetry_scene import scene, scene_files  # noqa: F401 (fixture)

UPLOAD = "/api/v1/pipeline/upload"


def _uploads(paths: list[Path]) -> list[SimpleUploadedFile]:
    return [SimpleUploadedFile(p.name, p.read_bytes(), content_type="image/jpeg") for p in paths]


def noise_photo(seed: int, *, size=(640, 480), blur: float = 0.0) -> bytes:
    """A sharp, feature-rich photo unlike any other seed's (no shared content to match)."""
    rng = np.random.default_rng(seed)
    coarse = Image.fromarray(rng.integers(0, 255, (size[1] // 4, size[0] // 4, 3), dtype=np.uint8), "RGB")
    image = coarse.resize(size, Image.Resampling.BILINEAR)
    if blur:
        from PIL import ImageFilter

        image = image.filter(ImageFilter.GaussianBlur(blur))
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=90)
    return out.getvalue()


def _colmap_running() -> bool:
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        if text[text.index("(") + 1:text.rindex(")")] == "colmap":
            return True
    return False


@pytest.mark.django_db(transaction=True)
def test_a_completed_job_with_product_id_puts_its_model_on_the_product(api_client, user):
    """Staff uploaded with product_id: when the job completes, its GLB becomes the product's model."""
    product = Product.objects.create(category=Category.objects.create(name="Trees", slug="trees"), name="Scanned tree",
                                     slug="scanned-tree", price="40.00", stock_quantity=1)
    job = Job.objects.create(owner=user, kind="photogrammetry", engine="local", status="processing",
                             params={"photos": [], "product_id": product.pk}, lease_token=uuid.uuid4())
    glb = Asset(owner=user, job=job, asset_type="glb", role="output", is_primary=True, size=4)
    glb.file.save("m.glb", ContentFile(b"glTF"), save=True)
    services.job_finish(job_id=job.pk, lease_token=job.lease_token, result={"quality": {}})
    product.refresh_from_db()
    assert product.model_asset_id == glb.pk
    assert api_client.get(f"/api/v1/products/{product.pk}").json()["model_url"]


@pytest.mark.django_db(transaction=True)
def test_photos_that_share_nothing_fail_as_reconstruction_and_return_credits(api_client, user):
    api_client.force_authenticate(user)
    grant(user, 10)
    credits = spendable(user)
    photos = [SimpleUploadedFile(f"noise_{n}.jpg", noise_photo(n), content_type="image/jpeg") for n in range(8)]
    reply = api_client.post(UPLOAD, {"images": photos, "quality": "fast"}, format="multipart")
    assert reply.status_code == 202, reply.json()
    job_id = reply.json()["job_id"]
    assert tasks.job_run(job_id) == "failed"
    status = api_client.get(f"/api/v1/pipeline/status/{job_id}").json()
    assert status["status"] == "failed" and status["error_type"] == "reconstruction"
    assert "photos" in status["error"] and "overlap" in status["error"] and "credits were returned" in status["error"]
    assert spendable(user) == credits
    assert api_client.get(f"/api/v1/pipeline/download/{job_id}").status_code == 404


@pytest.mark.django_db(transaction=True)
def test_cancel_kills_colmap_at_once_and_returns_credits(api_client, user, scene):
    directory, truth = scene
    api_client.force_authenticate(user)
    grant(user, 10)
    credits = spendable(user)
    reply = api_client.post(UPLOAD, {"files": _uploads(scene_files(directory, truth)), "quality": "fast"}, format="multipart")
    job_id = reply.json()["job_id"]
    outcome = []
    runner = threading.Thread(target=lambda: outcome.append(tasks.job_run(job_id)))
    runner.start()
    wait_until(lambda: Job.objects.filter(pk=job_id, stage__in=["features", "matching"]).exists(), 60)
    wait_until(_colmap_running, 10, message="COLMAP never started")
    services.job_cancel(job=Job.objects.get(pk=job_id))
    cancelled_at = time.monotonic()
    runner.join(timeout=15)
    assert outcome == ["aborted"] and time.monotonic() - cancelled_at < 3
    wait_until(lambda: not _colmap_running(), 5, message="COLMAP outlived the cancel")
    job = Job.objects.get(pk=job_id)
    assert (job.status, job.credits_state, spendable(user)) == ("cancelled", "released", credits)
    assert not Asset.objects.filter(job=job, role="output").exists()


def test_colmap_steps_never_ask_for_the_gpu(tmp_path, settings):
    from pipeline.photogrammetry.colmap import commands

    for count, matcher in ((24, "exhaustive_matcher"), (80, "sequential_matcher")):
        steps = commands(images=tmp_path, workspace=tmp_path, count=count, single_camera=True, quality="balanced")
        assert [argv[1] for _, argv in steps] == ["feature_extractor", matcher, "mapper"]
        assert steps[0][1][-2:] == ["--SiftExtraction.use_gpu", "0"]
        assert steps[1][1][-2:] == ["--SiftMatching.use_gpu", "0"]
        assert "--ImageReader.single_camera" in steps[0][1]

