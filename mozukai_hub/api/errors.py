"""One JSON error shape for every API failure:

    {"error": {"code": "validation_error", "message": "…", "fields": {"email": ["…"]}}}

`fields` appears only for validation errors. Services raise `ApplicationError` (or a
subclass); views let it propagate; this handler maps it once.
"""

import logging

from django.core.exceptions import PermissionDenied, RequestDataTooBig, SuspiciousOperation
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, JsonResponse
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.serializers import as_serializer_error
from rest_framework.views import exception_handler as drf_exception_handler

logger = logging.getLogger(__name__)


class ApplicationError(Exception):
    """A domain rule said no. Carries the HTTP status the API answers with."""

    status_code = status.HTTP_400_BAD_REQUEST
    code = "bad_request"

    def __init__(self, message: str, *, code: str | None = None, status_code: int | None = None, extra: dict | None = None):
        super().__init__(message)
        self.message = message
        if code:
            self.code = code
        if status_code:
            self.status_code = status_code
        self.extra = extra or {}


class Conflict(ApplicationError):
    status_code = status.HTTP_409_CONFLICT
    code = "conflict"


class PaymentRequired(ApplicationError):
    status_code = status.HTTP_402_PAYMENT_REQUIRED
    code = "payment_required"


class TooManyRequests(ApplicationError):
    """A per-owner limit (as a throttle's 429): `Retry-After` header and `retry_after` in the body."""

    status_code = status.HTTP_429_TOO_MANY_REQUESTS
    code = "throttled"

    def __init__(self, message: str, *, retry_after: int, **kwargs):
        super().__init__(message, **kwargs)
        self.retry_after = max(1, int(retry_after))
        self.extra = {**self.extra, "retry_after": self.retry_after}
        self.headers = {"Retry-After": str(self.retry_after)}


def error_body(code: str, message: str, fields: dict | None = None, **extra) -> dict:
    body = {"code": code, "message": message, **extra}
    if fields:
        body["fields"] = fields
    return {"error": body}


def _first_message(detail) -> str:
    if isinstance(detail, dict):
        for value in detail.values():
            return _first_message(value)
    if isinstance(detail, list) and detail:
        return _first_message(detail[0])
    return str(detail)


def request_error(exc: Exception) -> tuple[int, dict] | None:
    """(status, body) for the exceptions Django raises about a request itself (reading a body
    over DATA_UPLOAD_MAX_MEMORY_SIZE, too many form fields, a bad Host…), which Django would
    answer with an HTML 400; None for any other exception."""
    if isinstance(exc, RequestDataTooBig):
        return 413, error_body("request_too_large", "The request body is larger than this endpoint accepts.")
    if isinstance(exc, SuspiciousOperation):
        return 400, error_body("bad_request", "The request was refused as malformed.")
    return None


def exception_handler(exc, context):
    if isinstance(exc, ApplicationError):
        return Response(error_body(exc.code, exc.message, **exc.extra), status=exc.status_code,
                        headers=getattr(exc, "headers", None))
    refused = request_error(exc)
    if refused is not None:
        logging.getLogger(f"django.security.{type(exc).__name__}").warning("%s", exc)
        return Response(refused[1], status=refused[0])
    if isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(as_serializer_error(exc))
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()

    response = drf_exception_handler(exc, context)
    if response is None:
        return None  # an unexpected error: Django's 500 handler answers (api_server_error)

    if isinstance(exc, exceptions.ValidationError):
        detail = exc.detail if isinstance(exc.detail, dict) else {"non_field_errors": exc.detail}
        message = f"Invalid input: {_first_message(detail)}"
        response.data = error_body("validation_error", message, fields=detail)
    else:
        codes, detail = exc.get_codes(), exc.detail
        if isinstance(codes, dict):  # simplejwt: {"detail": …, "code": …, "messages": […]}
            code = codes.get("code") or codes.get("detail") or "error"
            message = detail.get("detail", _first_message(detail))
        else:
            code, message = codes, _first_message(detail)
        response.data = error_body(str(code), str(message))
        if isinstance(exc, exceptions.Throttled) and exc.wait is not None:
            response.data["error"]["retry_after"] = int(exc.wait + 0.999)
    return response


def api_not_found(request, exception=None):
    return JsonResponse(error_body("not_found", "Not found."), status=404)


def api_server_error(request):
    return JsonResponse(error_body("server_error", "Internal server error."), status=500)
