"""Assets: outputs written by engines, uploads (parsed and rewritten), external records, metadata."""

import hashlib
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files import File
from django.db import transaction
from django.db.models import Q

from mozukai_hub.api.errors import ApplicationError

from ..models import Asset, AssetMeta, Job
from ..moderation import image_upload_check
from ..sniff import Rejected
from ..uploads import upload_clean

# Uploads a browser shows as pictures: checked by the image classifier before they are stored.
IMAGE_TYPES = (Asset.Type.PNG, Asset.Type.JPG, Asset.Type.WEBP)
META_FIELDS = ("part_name", "component_of", "position_json", "image_paths_json", "material_json", "is_composite_of", "used_for_json")


def file_sha256(fileobj) -> str:
    """The hex SHA-256 of an open binary file (read from its start; left at its start): an asset's checksum."""
    digest = hashlib.sha256()
    fileobj.seek(0)
    for chunk in iter(lambda: fileobj.read(1 << 20), b""):
        digest.update(chunk)
    fileobj.seek(0)
    return digest.hexdigest()


def _delete_file_on_commit(name: str) -> None:
    if name:
        storage = Asset._meta.get_field("file").storage
        transaction.on_commit(lambda: storage.delete(name))


def asset_output_store(*, job: Job, path: Path, asset_type: str, primary: bool = False, content_type: str = "") -> Asset:
    with path.open("rb") as handle:
        asset = Asset(
            owner_id=job.owner_id, job=job, asset_type=asset_type, role=Asset.Role.OUTPUT, is_primary=primary,
            size=path.stat().st_size, content_type=content_type, checksum=file_sha256(handle),
        )
        asset.file.save(f"{job.pk}.{asset_type}", File(handle), save=False)
    try:
        asset.save()
    except Exception:
        asset.file.storage.delete(asset.file.name)  # no orphan file when the row is refused
        raise
    return asset


def asset_outputs_discard(*, job: Job) -> int:
    """Remove what an earlier, interrupted run of this job wrote."""
    with transaction.atomic():
        stale = list(Asset.objects.filter(job=job, role=Asset.Role.OUTPUT).values_list("pk", "file"))
        Asset.objects.filter(pk__in=[pk for pk, _ in stale]).delete()
        for _, name in stale:
            _delete_file_on_commit(name)
    return len(stale)


def asset_record(*, user, job: Job | None, asset_type: str, uri: str, size: int | None = None,
                 content_type: str = "", checksum: str = "") -> Asset:
    """An asset that lives elsewhere: the URI is recorded, never fetched by the server."""
    asset = Asset(owner=user, job=job, asset_type=asset_type, role=Asset.Role.OUTPUT, uri=uri,
                  size=size, content_type=content_type, checksum=checksum)
    asset.full_clean(exclude=["file"])
    asset.save()
    return asset


def asset_upload(*, user, upload, role: str = Asset.Role.UPLOAD, job: Job | None = None) -> Asset:
    """Store an uploaded file after checking its size and parsing it in full; nothing stored on refusal.

    What is stored is the parser's re-encoding of the upload (pipeline.uploads), never its bytes.
    """
    if upload.size > settings.PIPELINE_UPLOAD_MAX_BYTES:
        raise ApplicationError(
            f"File is larger than {settings.PIPELINE_UPLOAD_MAX_BYTES} bytes.", code="file_too_large", status_code=413,
        )
    try:
        with upload_clean(upload, size=upload.size) as clean, clean.path.open("rb") as handle:
            if clean.asset_type in IMAGE_TYPES:
                image_upload_check(clean.path)
            asset = Asset(owner=user, job=job, asset_type=clean.asset_type, role=role, size=clean.size,
                          content_type=clean.content_type, checksum=file_sha256(handle), width=clean.width,
                          height=clean.height)
            asset.file.save(f"upload.{clean.asset_type}", File(handle), save=False)
    except Rejected as exc:
        raise ValidationError({"file": [str(exc)]})
    try:
        asset.save()
    except Exception:
        asset.file.storage.delete(asset.file.name)
        raise
    return asset


def asset_delete(*, asset: Asset) -> None:
    with transaction.atomic():
        name = asset.file.name
        asset.delete()
        _delete_file_on_commit(name)


def assets_delete_for_user(*, user) -> int:
    """Account deletion: the user's uploads and the outputs of the user's jobs, rows now and
    files once the caller's transaction commits (a rollback keeps both). Returns how many."""
    with transaction.atomic():
        stale = list(Asset.objects.filter(Q(owner=user) | Q(job__owner=user)).values_list("pk", "file"))
        Asset.objects.filter(pk__in=[pk for pk, _ in stale]).delete()
        for _, name in stale:
            _delete_file_on_commit(name)
    return len(stale)


def asset_meta_create(*, asset: Asset, data: dict) -> AssetMeta:
    meta = AssetMeta(asset=asset, **{k: v for k, v in data.items() if k in META_FIELDS})
    meta.full_clean()
    meta.save()
    return meta


@transaction.atomic
def asset_meta_update(*, meta: AssetMeta, data: dict) -> AssetMeta:
    locked = AssetMeta.objects.select_for_update().get(pk=meta.pk)
    fields = [name for name in META_FIELDS if name in data]
    for name in fields:
        setattr(locked, name, data[name])
    locked.full_clean()
    locked.save(update_fields=[*fields, "updated_at"])
    return locked


def asset_meta_delete(*, meta: AssetMeta) -> None:
    meta.delete()
