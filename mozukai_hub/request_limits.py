"""The largest request body the app takes, refused from the headers before the body is read.

Each endpoint keeps its own limit (an upload: PIPELINE_UPLOAD_MAX_BYTES, an avatar:
AVATAR_MAX_BYTES), checked by its service once the file is parsed. This is the outer bound
(`MAX_REQUEST_BYTES`), so that a body of gigabytes is answered 413 at once instead of being
received and spooled to a temporary file first:

* `RequestBodyLimitMiddleware` (Django, first in MIDDLEWARE): under WSGI (gunicorn) the body
  is read lazily, so refusing here means it is never read;
* `limit_request_body` (ASGI, wraps Django in `asgi.py`): Django's ASGI handler reads the whole
  body before any middleware runs, so daphne needs the check in front of it. A chunked body
  without Content-Length is counted as it arrives and cut off (as a client disconnect) once it
  passes the limit.
"""

from __future__ import annotations

import json

from django.conf import settings
from django.http import HttpResponse

from .api.errors import error_body

def _too_large(path: str) -> tuple[bytes, str]:
    """The 413's body and content type: the API's error shape under /api/, text elsewhere."""
    message = f"The request body is larger than the {settings.MAX_REQUEST_BYTES} bytes this server accepts."
    if path.startswith("/api/"):
        return json.dumps(error_body("request_too_large", message)).encode(), "application/json"
    return message.encode(), "text/plain; charset=utf-8"


class RequestBodyLimitMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        try:
            declared = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            declared = 0  # Django reads such a body as empty
        if declared > settings.MAX_REQUEST_BYTES:
            body, content_type = _too_large(request.path)
            return HttpResponse(body, status=413, content_type=content_type)
        return self.get_response(request)


def limit_request_body(app):
    """ASGI middleware: 413 for a declared Content-Length over the limit; a longer chunked
    body is cut off as a client disconnect."""

    async def limited(scope, receive, send):
        if scope["type"] != "http":
            return await app(scope, receive, send)
        limit = settings.MAX_REQUEST_BYTES
        declared = dict(scope.get("headers") or []).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > limit:
            body, content_type = _too_large(scope.get("path", ""))
            await send({"type": "http.response.start", "status": 413, "headers": [
                (b"content-type", content_type.encode()), (b"content-length", str(len(body)).encode()),
                (b"connection", b"close")]})
            await send({"type": "http.response.body", "body": body})
            return None
        received = 0

        async def counted_receive():
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    return {"type": "http.disconnect"}  # Django stops reading and answers nothing
            return message

        return await app(scope, counted_receive, send)

    return limited
