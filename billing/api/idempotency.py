"""`Idempotency-Key` support for API views that move money or credits."""

from __future__ import annotations

import functools

from rest_framework.response import Response

from mozukai_hub.client_ip import client_ip

from ..services.idempotency import idempotent_request_claim, idempotent_request_finish, request_fingerprint


def idempotency_owner(request) -> str:
    if request.user and request.user.is_authenticated:
        return f"user:{request.user.pk}"
    return f"ip:{client_ip(request)}"


def endpoint_of(view) -> str:
    """Which endpoint a request reached, whatever the URL spelling. Not `resolver_match.view_name`:
    `api_path` routes `/credits/consume` and `/credits/consume/` to the same view but names only
    the first, so their view names differ; the view class is the same for both."""
    view_class = type(view)
    return f"{view_class.__module__}.{view_class.__qualname__}"


def idempotent(method):
    """Replay the stored response for a repeated key and body; refuse another body (422)."""

    @functools.wraps(method)
    def wrapper(self, request, *args, **kwargs):
        key = request.headers.get("Idempotency-Key")
        if key is None:
            return method(self, request, *args, **kwargs)
        key = key.strip()
        claim = idempotent_request_claim(
            owner=idempotency_owner(request), key=key, method=request.method, path=request.path,
            fingerprint=request_fingerprint(method=request.method, endpoint=endpoint_of(self), body=request.data),
        )
        if claim.record is None:
            response = Response(claim.replay_body, status=claim.replay_status)
            response["Idempotent-Replayed"] = "true"
            return response
        request.idempotency_key = key
        try:
            response = method(self, request, *args, **kwargs)
        except BaseException:
            idempotent_request_finish(record=claim.record, status_code=500, body=None)  # the key is free again
            raise
        idempotent_request_finish(record=claim.record, status_code=response.status_code, body=response.data)
        return response

    return wrapper
