"""The local thumbnail engine through the job pipeline: params checked (and priced), a real run
with the task code, outputs of the exact size, the JPEG under YouTube's limit, the headline
read back by tesseract."""

import io
import shutil
import subprocess
import uuid

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from pipeline import services, tasks
from pipeline.engines import engine_get
from pipeline.models import Asset, Job, JobEvent
from pipeline.owners import JobOwner
from pipeline.tests.conftest import grant

from .synthetic_faces import synthetic_selfie

HEADLINE = "SAVE MONEY FAST"


def params(**changes) -> dict:
    base = {"project_id": str(uuid.uuid4()), "title": "Savings", "mode": "design", "platform": "youtube",
            "width": 1920, "height": 1080, "headline": HEADLINE, "subtext": "Three habits that work",
            "vibe": "bold", "quality": "std", "variants": 2,
            "inputs": {"selfie": None, "ref": None, "copy_target": None}}
    return {**base, **changes}


def upload(user, image: Image.Image, role: str = "selfie", fmt: str = "PNG") -> Asset:
    buffer = io.BytesIO()
    image.save(buffer, fmt)
    name = "upload." + ("jpg" if fmt == "JPEG" else fmt.lower())
    return services.asset_upload(user=user, upload=SimpleUploadedFile(name, buffer.getvalue()), role=role)


def engine():
    return engine_get(kind="thumbnail", name="local")


@pytest.mark.django_db
@pytest.mark.parametrize("change, field", [
    ({"platform": "myspace"}, "platform"),
    ({"vibe": "grumpy"}, "vibe"),
    ({"width": 5000, "height": 2813}, "width"),
    ({"width": 1280, "height": 1000}, "height"),  # off YouTube's 16:9
    ({"width": 640, "height": 360}, "width"),  # below YouTube's 1280×720
    ({"variants": 0}, "variants"),
    ({"variants": 5}, "variants"),
    ({"variants": True}, "variants"),
    ({"quality": "ultra"}, "quality"),
    ({"mode": "paint"}, "mode"),
    ({"headline": "  "}, "headline"),
    ({"headline": "x" * 121}, "headline"),
    ({"colour": "red"}, "colour"),
    ({"inputs": {"selfie": "not-an-id"}}, "inputs.selfie"),
    ({"inputs": {"avatar": None}}, "inputs.avatar"),
    ({"inputs": {"ref": str(uuid.uuid4())}}, "inputs.ref"),
])
def test_bad_params_are_refused_naming_the_field(user, change, field):
    with pytest.raises(ValidationError) as refused:
        engine().validate_params(params(**change), owner=JobOwner.for_user(user))
    assert field in refused.value.message_dict


@pytest.mark.django_db
def test_inputs_must_be_the_owners_image_assets(user, other_user):
    theirs = upload(other_user, synthetic_selfie(160, 200)[0])
    mine_mesh = Asset.objects.create(owner=user, asset_type="stl", role="upload", uri="s3://bucket/part.stl")
    owner = JobOwner.for_user(user)
    for role, asset in (("selfie", theirs), ("copy_target", mine_mesh)):
        with pytest.raises(ValidationError) as refused:
            engine().validate_params(params(inputs={role: str(asset.pk)}), owner=owner)
        assert f"inputs.{role}" in refused.value.message_dict
    with pytest.raises(ValidationError):  # an anonymous visitor owns no asset to name
        engine().validate_params(params(inputs={"selfie": str(theirs.pk)}),
                                 owner=JobOwner(user=None, client_ip="203.0.113.9"))
    mine = upload(user, synthetic_selfie(160, 200)[0])
    clean = engine().validate_params(params(inputs={"selfie": str(mine.pk)}, variants="3", width=None, height=None),
                                     owner=owner)
    assert clean["inputs"] == {"selfie": str(mine.pk), "ref": None, "copy_target": None}
    assert (clean["width"], clean["height"], clean["variants"]) == (1280, 720, 3)
    assert engine().input_asset_ids(clean) == [mine.pk]


@pytest.mark.django_db
def test_price_is_variants_times_the_quality_units(user):
    grant(user, 20)
    owner = JobOwner.for_user(user)
    std = services.job_create(owner=owner, kind="thumbnail", params=params(variants=3), start=False)
    hd = services.job_create(owner=owner, kind="thumbnail", params=params(variants=2, quality="hd"), start=False)
    assert (std.engine, std.credit_cost, hd.credit_cost) == ("local", 3, 4)


def _ocr(image: Image.Image, box) -> str:
    crop = image.crop(box).convert("L")
    buffer = io.BytesIO()
    crop.save(buffer, "PNG")
    done = subprocess.run(["tesseract", "stdin", "stdout", "--psm", "6"], input=buffer.getvalue(),
                          capture_output=True, timeout=60, check=True)
    return " ".join(done.stdout.decode().split()).upper()


@pytest.mark.django_db(transaction=True)
def test_a_two_variant_job_yields_two_different_pngs_whose_headline_tesseract_reads(user):
    assert shutil.which("tesseract"), "tesseract-ocr is a system package of this project (.ci/run installs it)"
    grant(user, 10)
    selfie = upload(user, synthetic_selfie()[0], fmt="JPEG")
    job = services.job_create(owner=JobOwner.for_user(user), kind="thumbnail",
                              params=params(inputs={"selfie": str(selfie.pk)}))
    assert job.status == "queued" and job.credit_cost == 2
    assert tasks.job_run(str(job.pk)) == "completed"
    job = Job.objects.get(pk=job.pk)
    assert job.progress == 100 and job.credits_state == "settled"
    variants = job.result["variants"]
    assert [v["variant"] for v in variants] == [1, 2]

    images = []
    for item in variants:
        png = Asset.objects.get(pk=item["png_asset_id"], job=job)
        jpg = Asset.objects.get(pk=item["jpg_asset_id"], job=job)
        assert (png.asset_type, png.is_primary) == ("png", item["variant"] == 1)
        assert jpg.asset_type == "jpg" and jpg.size < 2 * 1024 * 1024
        with png.file.open("rb") as handle:
            image = Image.open(io.BytesIO(handle.read()))
            image.load()
        assert image.format == "PNG" and image.size == (1920, 1080)
        with jpg.file.open("rb") as handle:
            assert Image.open(io.BytesIO(handle.read())).size == (1920, 1080)
        report = item["report"]
        assert report["png_bytes"] == png.size and report["jpg_bytes"] == jpg.size
        assert report["contrast_ratio"] >= 4.5 and report["safe_zone_violations"] == []
        assert report["subject"]["face_found"] is True
        boxes = [b["box"] for b in report["text_boxes"] if b["text"] == "headline"]
        pad = 30
        box = (min(b[0] for b in boxes) - pad, min(b[1] for b in boxes) - pad,
               max(b[2] for b in boxes) + pad, max(b[3] for b in boxes) + pad)
        read = _ocr(image, box)
        for word in HEADLINE.split():
            assert word in read, (word, read)
        images.append(image.convert("RGB").tobytes())
    assert images[0] != images[1]

    progress = [e.data for e in JobEvent.objects.filter(job=job, type="progress").order_by("seq")]
    assert [p["stage"] for p in progress if p["stage"].startswith("variant")][:2] == ["variant 1", "variant 1"]
    assert [p["progress"] for p in progress] == sorted(p["progress"] for p in progress)
    assert Asset.objects.filter(job=job, role="output").count() == 4


@pytest.mark.django_db(transaction=True)
def test_rerunning_a_job_gives_the_same_pixels_and_non_youtube_has_no_jpeg(user):
    grant(user, 10)
    owner = JobOwner.for_user(user)
    spec = params(platform="instagram_square", width=540, height=540, variants=1)
    first = services.job_create(owner=owner, kind="thumbnail", params=spec)
    second = services.job_create(owner=owner, kind="thumbnail", params=spec)
    assert tasks.job_run(str(first.pk)) == "completed" and tasks.job_run(str(second.pk)) == "completed"
    results = [Job.objects.get(pk=j.pk).result["variants"][0] for j in (first, second)]
    assert all(r["jpg_asset_id"] is None for r in results)
    checksums = [Asset.objects.get(pk=r["png_asset_id"]).checksum for r in results]
    assert checksums[0] == checksums[1]


@pytest.mark.django_db
def test_the_jobs_api_takes_thumbnail_params_and_answers_bad_ones_in_the_error_shape(auth_client, user):
    grant(user, 10)
    bad = auth_client.post("/api/v1/jobs", {"kind": "thumbnail", "params": params(vibe="grumpy")}, format="json")
    assert bad.status_code == 400 and "vibe" in bad.json()["error"]["fields"]
    assert Job.objects.count() == 0
    made = auth_client.post("/api/v1/jobs", {"kind": "thumbnail", "params": params(variants=3)}, format="json")
    assert made.status_code == 201, made.content
    assert made.json()["cost_credits"] == 3 and Job.objects.get(pk=made.json()["id"]).engine == "local"
