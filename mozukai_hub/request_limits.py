"""The largest request body the app takes (`MAX_REQUEST_BYTES`), answered 413 past that.

Each endpoint keeps its own limit (an upload: PIPELINE_UPLOAD_MAX_BYTES, an avatar:
AVATAR_MAX_BYTES), checked by its service once the file is parsed. This is the outer bound,
and what it saves depends on the server in front of Django:

* `RequestBodyLimitMiddleware` (Django, first in MIDDLEWARE): under WSGI (gunicorn) the body
  is read lazily, so a body that declares a Content-Length over the limit is refused from its
  headers and never read (at most gunicorn's first buffer arrived with the headers). A body
  without Content-Length is read as empty by Django's WSGI request, so it is never read either.
* `limit_request_body` (ASGI, wraps Django in `asgi.py`): Django's ASGI handler reads (and
  spools to a temporary file) the whole body before any middleware runs, so the check has to
  sit in front of it. Under daphne it cannot stop the body from being received: Twisted takes
  in the whole body, declared length or chunked, before the application is called. What it
  does prevent is Django spooling that body a second time: a declared length over the limit
  is answered 413 without Django running, and a chunked body (no Content-Length) is counted
  as Django reads it and cut off once it passes the limit; the wrapper then answers the 413
  itself (Django's handler answers nothing to a body read that ends in a disconnect) and drops
  whatever Django might still send.

The hard limit in production, which keeps an oversized body from reaching daphne or gunicorn
at all, is the reverse proxy's body size limit (nginx: `client_max_body_size`), set at or a
little above MAX_REQUEST_BYTES.
"""

from __future__ import annotations

import json

from django.conf import settings
from django.http import HttpResponse

from .api.errors import error_body
from .api.seed_paths import is_api_path


def _too_large(path: str) -> tuple[bytes, str]:
    """The 413's body and content type: the API's error shape on its paths, text elsewhere."""
    message = f"The request body is larger than the {settings.MAX_REQUEST_BYTES} bytes this server accepts."
    if is_api_path(path):
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


async def _send_413(send, path: str) -> None:
    body, content_type = _too_large(path)
    await send({"type": "http.response.start", "status": 413, "headers": [
        (b"content-type", content_type.encode()), (b"content-length", str(len(body)).encode()),
        (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": body})


def limit_request_body(app):
    """ASGI middleware: 413 for a declared Content-Length over the limit (the app is not
    called); a chunked body that passes the limit is answered 413 here, the app sees a client
    disconnect and anything it sends after that is dropped."""

    async def limited(scope, receive, send):
        if scope["type"] != "http":
            return await app(scope, receive, send)
        limit = settings.MAX_REQUEST_BYTES
        path = scope.get("path", "")
        declared = dict(scope.get("headers") or []).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > limit:
            await _send_413(send, path)
            return None
        received = 0
        cut_off = False  # the body passed the limit: the app reads a disconnect from then on
        response_started = False
        answered = False  # the 413 went out from here: the app's own answer is dropped

        async def counted_receive():
            nonlocal received, cut_off, answered
            if cut_off:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    cut_off = True
                    if not response_started:  # (an app that answers while it reads is past a 413)
                        answered = True
                        await _send_413(send, path)
                    return {"type": "http.disconnect"}  # Django stops reading (RequestAborted)
            return message

        async def guarded_send(message):
            nonlocal response_started
            if answered:
                return
            if message["type"] == "http.response.start":
                response_started = True
            await send(message)

        return await app(scope, counted_receive, guarded_send)

    return limited


# --- Oversized request heads under daphne -------------------------------------------------
#
# Twisted's HTTP server (which daphne runs on) takes a request line or header line of at most
# 16 KiB (`LineReceiver.MAX_LENGTH`) and a request head of at most 16 KiB in all
# (`HTTPChannel.totalHeadersSize`). Past the first it dropped the connection without a word
# (`lineLengthExceeded` closes the transport); past the second it wrote a bare
# "400 Bad Request" with no body. Both now answer like gunicorn does (414 for the request line,
# 431 for the headers), with the API's JSON error shape on its paths, and then close.

def _head_refusal(status: int, reason: bytes, path: bytes) -> bytes:
    # Twisted's `_path` is the request target as sent, query string included.
    if is_api_path(path.split(b"?", 1)[0].decode("latin-1")):
        code = "uri_too_long" if status == 414 else "request_header_fields_too_large"
        body, content_type = json.dumps(error_body(code, reason.decode() + ".")).encode(), b"application/json"
    else:
        body, content_type = reason + b".\n", b"text/plain; charset=utf-8"
    return (b"HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s"
            % (status, reason, content_type, len(body), body))


def answer_oversized_request_heads() -> None:
    """Make Twisted's HTTPChannel answer an oversized request head instead of dropping it.

    Called by `mozukai_hub.asgi` (daphne imports the application before it accepts
    connections). Idempotent."""
    from twisted.web import http

    channel = http.HTTPChannel
    if getattr(channel, "_mozukai_answers_oversized_heads", False):
        return
    respond_bad_request = channel._respondToBadRequestAndDisconnect

    def refuse(self, status: int, reason: bytes) -> None:
        if getattr(self, "_mozukai_refused", False):
            return
        self._mozukai_refused = True
        self.transport.write(_head_refusal(status, reason, getattr(self, "_path", b"") or b""))
        self.loseConnection()

    def line_length_exceeded(self, line):
        if self._HTTPChannel__first_line:  # (Twisted's own flag: the request line is still to come)
            refuse(self, 414, b"URI Too Long")
        else:
            refuse(self, 431, b"Request Header Fields Too Large")

    def bad_request(self):
        if self._receivedHeaderSize > self.totalHeadersSize or self._receivedHeaderCount > self.maxHeaders:
            refuse(self, 431, b"Request Header Fields Too Large")
        elif not getattr(self, "_mozukai_refused", False):
            respond_bad_request(self)

    channel.lineLengthExceeded = line_length_exceeded
    channel._respondToBadRequestAndDisconnect = bad_request
    channel._mozukai_answers_oversized_heads = True
