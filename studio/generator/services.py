"""Photo generator writes (seed 002): one uploaded photo becomes one `photo_style` job.

The order is what keeps a refused request from leaving anything behind:

1. the category, the size and the content are checked first (`pipeline.uploads.upload_clean`
   decodes every pixel within the upload limits, applies the EXIF orientation and re-encodes
   without metadata): a bad request is a 400 before anything is written or spent;
2. the cleaned photo is written to storage, outside any transaction (S3 is a network call);
3. one transaction creates the job (admission caps, engine, credit hold: `pipeline.services.
   job_create`), the photo's asset row and its record as the job's input. Any refusal there
   (402 no credits, 429 caps, 400 engine) rolls all of it back and the file written in step 2
   is deleted;
4. after commit the job is started (moderation, queue).

Whose photo it is: a signed-in user's upload is theirs (`Asset.owner`), named in the params
and resolved through the owner's access gate like any job input. An anonymous visitor owns no
asset before its job exists (`pipeline.selectors.assets_for_owner`), so its photo belongs to
the job (owner empty, `job` set: readable with the job's visitor token) and is recorded as the
job's input in the same transaction, before the job can start.
"""

import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files import File
from django.db import transaction
from django.template.defaultfilters import filesizeformat

from billing.services import InsufficientCredits
from mozukai_hub.api.errors import PaymentRequired
from pipeline.models import Asset, Job, JobInput
from pipeline.moderation import image_upload_check
from pipeline.owners import JobOwner
from pipeline.services import job_create, job_start
from pipeline.services.assets import file_sha256
from pipeline.sniff import Rejected, sniff_type
from pipeline.uploads import CleanUpload, upload_clean

from .engine import category_clean

PHOTO_TYPES = ("jpg", "png", "webp")
BUY_PAGE = "/credits/"


@contextmanager
def photo_upload_clean(upload) -> Iterator[CleanUpload]:
    """The upload parsed in full as a photo (PNG, JPEG or WebP within the size and pixel limits,
    no decompression bomb) and re-encoded without metadata; ValidationError on `file` otherwise."""
    limit = settings.PIPELINE_UPLOAD_MAX_BYTES
    if upload.size > limit:
        raise ValidationError({"file": [f"The photo is {filesizeformat(upload.size)}; the limit is {filesizeformat(limit)}."]})
    upload.seek(0)
    if upload.size and sniff_type(upload.read(512), upload.size) != "image":
        raise ValidationError({"file": ["This is not a photo: send a PNG, JPEG or WebP image."]})
    try:
        with upload_clean(upload, size=upload.size) as clean:
            if clean.asset_type not in PHOTO_TYPES:
                raise Rejected("This is not a photo: send a PNG, JPEG or WebP image.")
            image_upload_check(clean.path)  # 400 `moderation` before anything is stored or spent
            yield clean
    except Rejected as exc:
        raise ValidationError({"file": [str(exc)]})


def _storage():
    return Asset._meta.get_field("file").storage


def _photo_file_save(*, clean: CleanUpload, owner: JobOwner) -> str:
    """Write the cleaned photo under a generated name; returns the stored name."""
    folder = str(owner.user.pk) if owner.user is not None else "visitor-photos"
    with clean.path.open("rb") as handle:
        return _storage().save(f"assets/{folder}/{uuid.uuid4().hex}.{clean.asset_type}", File(handle))


@transaction.atomic
def _photo_job_rows(*, owner: JobOwner, clean: CleanUpload, name: str, category: str, engine: str | None) -> Job:
    with clean.path.open("rb") as handle:
        checksum = file_sha256(handle)
    asset = Asset(owner=owner.user, asset_type=clean.asset_type, role=Asset.Role.PHOTO, size=clean.size,
                  content_type=clean.content_type, checksum=checksum, width=clean.width, height=clean.height)
    asset.file.name = name
    if owner.is_visitor:
        job = job_create(owner=owner, kind=Job.Kind.PHOTO_STYLE, params={"category": category}, engine=engine, start=False)
        asset.job = job
        asset.save()
        JobInput.objects.create(job=job, asset=asset, asset_ref=asset.pk, role=asset.role)
        job.params = {**job.params, "photo_asset_id": str(asset.pk)}
        job.save(update_fields=["params", "updated_at"])
        return job
    asset.save()
    job = job_create(owner=owner, kind=Job.Kind.PHOTO_STYLE, params={"category": category, "photo_asset_id": str(asset.pk)},
                     engine=engine, start=False)
    asset.job = job  # listed with the job's files (`GET /assets?job_id=`)
    asset.save(update_fields=["job"])
    return job


def _out_of_credits(*, owner: JobOwner, exc: InsufficientCredits) -> PaymentRequired:
    packs = ", ".join(str(credits) for credits in sorted(settings.CREDIT_PACKS))
    needed = exc.extra.get("needed")
    if owner.is_visitor:
        message = (f"You have used the {settings.DEFAULT_FREE_CREDITS} free credits of your address "
                   f"(a photo costs {needed}). To keep generating, sign in and buy a credit pack "
                   f"({packs} credits) on {BUY_PAGE} or with POST /api/v1/credits/checkout {{\"pack\": 5}}.")
    else:
        message = (f"Not enough credits: a photo costs {needed}, you have {max(exc.extra.get('balance') or 0, 0)}. "
                   f"Buy a credit pack ({packs} credits) on {BUY_PAGE} or with POST /api/v1/credits/checkout {{\"pack\": 5}}.")
    return PaymentRequired(message, code=exc.code, extra={**exc.extra, "buy_url": BUY_PAGE,
                                                          "packs": sorted(settings.CREDIT_PACKS)})


def photo_job_create(*, owner: JobOwner, upload, category: str, engine: str | None = None) -> Job:
    """Check the photo, store it, create and start its job (credits held as for every job).

    Refused (400 bad category or photo, 402 out of credits, 429 caps, 400 unknown engine):
    nothing stored, nothing spent. An anonymous visitor's job carries `visitor_token` (once).
    """
    category = category_clean(category)
    with photo_upload_clean(upload) as clean:
        name = _photo_file_save(clean=clean, owner=owner)
        try:
            job = _photo_job_rows(owner=owner, clean=clean, name=name, category=category, engine=engine)
        except BaseException as exc:
            _storage().delete(name)  # the rows were rolled back: no file without its row
            if isinstance(exc, InsufficientCredits):
                raise _out_of_credits(owner=owner, exc=exc) from exc
            raise
    token = getattr(job, "visitor_token", "")
    job = job_start(job=job)
    if token:
        job.visitor_token = token
    return job
