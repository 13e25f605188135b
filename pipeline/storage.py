"""Private media: files are reached only through signed, expiring links.

Local storage: our own link `/api/v1/downloads/<signed token>` (django.core.signing, salted,
timestamped; a tampered or expired token is a 403). S3 (django-storages): a presigned URL
with the same lifetime.
"""

from datetime import datetime, timedelta

from django.conf import settings
from django.core import signing
from django.core.files.storage import default_storage
from django.urls import reverse
from django.utils import timezone

SALT = "pipeline.download"


def _is_s3() -> bool:
    return default_storage.__class__.__name__ == "S3Storage"


def download_url(*, asset, request=None) -> tuple[str, datetime]:
    lifetime = settings.PIPELINE_DOWNLOAD_URL_SECONDS
    expires_at = timezone.now() + timedelta(seconds=lifetime)
    if _is_s3():
        url = default_storage.url(asset.file.name, expire=lifetime)
        return url, expires_at
    token = signing.dumps({"a": str(asset.pk)}, salt=SALT, compress=False)
    path = reverse("pipeline-download", kwargs={"token": token})
    return (request.build_absolute_uri(path) if request else path), expires_at


def download_token_asset_id(token: str) -> str | None:
    """The asset id a valid, unexpired token grants; None for anything else."""
    try:
        return signing.loads(token, salt=SALT, max_age=settings.PIPELINE_DOWNLOAD_URL_SECONDS)["a"]
    except (signing.BadSignature, KeyError, TypeError):
        return None
