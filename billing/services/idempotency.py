"""Stored responses for POSTs sent with an `Idempotency-Key` header.

The first request with a key claims it (a row, committed at once); its successful response
is stored and replayed for every repeat with the same body. A repeat with another body is a
422; a repeat while the first is still running is a 409. Failed attempts (4xx/5xx) release
the key so the client can try again: only outcomes that moved something are replayed. The
services underneath are idempotent on their own as well (the key travels into them), so a
crash between the work and the stored response cannot double-spend either.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone

from mozukai_hub.api.errors import ApplicationError, Conflict

from ..models import IdempotentRequest

# A claim whose request died mid-way (process killed) may be taken over after this long.
STALE_CLAIM = timedelta(minutes=2)
MAX_KEY_LENGTH = 255


class IdempotencyKeyReused(ApplicationError):
    status_code = 422
    code = "idempotency_key_reused"


@dataclass(frozen=True)
class Claim:
    record: IdempotentRequest | None  # ours to finish; None when replaying
    replay_status: int | None = None
    replay_body: object = None


def request_fingerprint(*, method: str, endpoint: str, body: object) -> str:
    """What makes two requests "the same": method, endpoint (not the URL's spelling) and body."""
    canonical = json.dumps({"method": method, "endpoint": endpoint, "body": body}, sort_keys=True, default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def idempotent_request_claim(*, owner: str, key: str, method: str, path: str, fingerprint: str) -> Claim:
    if not key or len(key) > MAX_KEY_LENGTH:
        raise ApplicationError(f"Idempotency-Key must be 1 to {MAX_KEY_LENGTH} characters.", code="invalid_idempotency_key")
    try:
        with transaction.atomic():
            record = IdempotentRequest.objects.create(owner=owner, key=key, method=method, path=path, request_hash=fingerprint)
        return Claim(record)
    except IntegrityError:
        pass
    with transaction.atomic():
        record = IdempotentRequest.objects.select_for_update().get(owner=owner, key=key)
        if record.request_hash != fingerprint:
            raise IdempotencyKeyReused("This Idempotency-Key was used with a different request.")
        if record.status_code is not None:
            return Claim(None, record.status_code, record.response_body)
        if record.created_at > timezone.now() - STALE_CLAIM:
            raise Conflict("A request with this Idempotency-Key is still in progress.", code="idempotency_in_progress")
        record.created_at = timezone.now()  # take over a claim whose request died
        record.save(update_fields=["created_at"])
        return Claim(record)


def idempotent_request_finish(*, record: IdempotentRequest, status_code: int, body: object) -> None:
    if 200 <= status_code < 300:
        IdempotentRequest.objects.filter(pk=record.pk).update(status_code=status_code, response_body=body)
    else:
        IdempotentRequest.objects.filter(pk=record.pk, status_code__isnull=True).delete()


def idempotent_request_purge(*, older_than: timedelta) -> int:
    """Forget stored responses older than `older_than` (clients retry within minutes, not weeks)."""
    deleted, _ = IdempotentRequest.objects.filter(created_at__lt=timezone.now() - older_than).delete()
    return deleted
