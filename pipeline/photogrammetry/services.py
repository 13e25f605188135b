"""Seed 004's upload: pre-flight a photo set, store the good photos, create the job (credits held).

Nothing is stored and no credit moves until the set passes: the request-level checks (count,
product) and pre-flight come first; then the good photos are parsed and re-encoded
(`pipeline.uploads.upload_clean`, as every upload) and stored, and the job is created. When
creating the job fails (no credits, a per-owner cap), the photos just stored are deleted again.
"""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files import File

from mozukai_hub.api.errors import ApplicationError

from ..models import Asset, Job
from ..owners import JobOwner
from ..services import asset_delete, job_create, job_start
from ..services.assets import file_sha256
from ..sniff import Rejected
from ..uploads import upload_clean
from .preflight import Preflight, preflight_run
from .products import product_id_check


def _read_all(uploads: list) -> list[tuple[str, bytes | None, int]]:
    """(name, content, size) of each upload; one larger than a photo may be is not read (None)."""
    files = []
    for upload in uploads:
        name = (upload.name or "photo").rsplit("/", 1)[-1][:255]
        if upload.size > settings.PHOTOGRAMMETRY_PHOTO_MAX_BYTES:
            files.append((name, None, upload.size))
            continue
        upload.seek(0)
        files.append((name, upload.read(), upload.size))
    return files


def photos_count_check(count: int) -> None:
    low, high = settings.PHOTOGRAMMETRY_MIN_PHOTOS, settings.PHOTOGRAMMETRY_MAX_PHOTOS
    if count < low:
        raise ValidationError({"images": [f"{count} photo{'s' if count != 1 else ''} sent; at least {low} are needed."]})
    if count > high:
        raise ValidationError({"images": [f"{count} photos sent; at most {high} are accepted."]})


def photogrammetry_preflight(*, uploads: list) -> Preflight:
    """Pre-flight only (the page's per-photo verdicts before submitting): nothing stored."""
    if len(uploads) > settings.PHOTOGRAMMETRY_MAX_PHOTOS:
        photos_count_check(len(uploads))
    if not uploads:
        raise ValidationError({"images": ["No photos were sent."]})
    return preflight_run(_read_all(uploads))


def _photo_store(*, owner: JobOwner, upload, name: str) -> Asset:
    try:
        with upload_clean(upload, size=upload.size) as clean, clean.path.open("rb") as handle:
            asset = Asset(owner=owner.user, asset_type=clean.asset_type, role=Asset.Role.PHOTO, size=clean.size,
                          content_type=clean.content_type, checksum=file_sha256(handle), width=clean.width,
                          height=clean.height)
            asset.file.save(f"photo.{clean.asset_type}", File(handle), save=False)
    except Rejected as exc:
        raise ValidationError({"images": [f"{name}: {exc}"]})
    try:
        asset.save()
    except Exception:
        asset.file.storage.delete(asset.file.name)
        raise
    return asset


def photogrammetry_upload(*, owner: JobOwner, uploads: list, name: str = "", product_id: int | None = None,
                          quality: str = "balanced") -> tuple[Job, Preflight]:
    """Check the set, store its good photos and create the job (202 in the API). Raises a 400
    (`preflight_failed`, with the per-photo verdicts) when too few photos pass."""
    if owner.is_visitor:
        raise ApplicationError("Sign in to reconstruct photos.", code="not_authenticated", status_code=401)
    photos_count_check(len(uploads))
    product_id = product_id_check(owner_user=owner.user, product_id=product_id)
    report = preflight_run(_read_all(uploads))
    if not report.passes:
        raise ApplicationError(
            f"Too few usable photos: {report.summary()}", code="preflight_failed",
            extra={"preflight": report.as_dict()},
        )
    stored: list[Asset] = []
    by_name = {}
    try:
        for check, upload in zip(report.photos, uploads):
            if check.ok:
                asset = _photo_store(owner=owner, upload=upload, name=check.name)
                stored.append(asset)
                by_name[str(asset.pk)] = check.name
        summary = {k: v for k, v in report.as_dict().items() if k != "photos"}
        job = job_create(
            owner=owner, kind=Job.Kind.PHOTOGRAMMETRY, start=False,
            params={"photos": [{"asset_id": str(a.pk), "name": by_name[str(a.pk)]} for a in stored],
                    "quality": quality, "name": name, "product_id": product_id,
                    "single_camera": report.single_camera, "preflight": summary},
        )
    except Exception:
        for asset in stored:
            asset_delete(asset=asset)
        raise
    return job_start(job=job), report
