"""Bodies over MAX_REQUEST_BYTES are answered 413: from their headers when they declare a
Content-Length, as soon as the count passes the limit when they are chunked."""

import asyncio
import io
import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.handlers.asgi import ASGIHandler
from django.test import Client

from mozukai_hub.request_limits import limit_request_body
from mozukai_hub.testing.images import png_bytes
from pipeline.models import Asset


class UnreadableBody(io.RawIOBase):
    """A WSGI input that fails the test if anyone reads it."""

    def readable(self):
        return True

    def readinto(self, buffer):
        raise AssertionError("the body was read")


@pytest.mark.django_db
def test_wsgi_a_declared_length_over_the_limit_is_a_413_without_reading_the_body(auth_client, settings):
    settings.MAX_REQUEST_BYTES = 1000
    response = auth_client.generic("POST", "/api/v1/assets/upload", b"", content_type="multipart/form-data; boundary=x",
                                   CONTENT_LENGTH="5000000000", **{"wsgi.input": UnreadableBody()})
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "request_too_large"
    page = Client().generic("POST", "/accounts/login/", b"", CONTENT_LENGTH="2000", **{"wsgi.input": UnreadableBody()})
    assert page.status_code == 413 and b"larger than the 1000 bytes" in page.content
    assert Asset.objects.count() == 0


@pytest.mark.django_db
def test_a_body_within_the_limit_still_reaches_the_endpoint(auth_client, settings):
    data = png_bytes()
    settings.MAX_REQUEST_BYTES = len(data) + 2000
    response = auth_client.post("/api/v1/assets/upload", {"file": SimpleUploadedFile("p.png", data)}, format="multipart")
    assert response.status_code == 201, response.content


def _asgi_call(headers, chunks, *, path="/api/v1/assets/upload", app=None):
    """Run the ASGI wrapper around an app (by default a stand-in that reads the body, then
    answers 200 whatever it got); returns (what the app received, what was sent)."""
    received_by_app, sent, pending = [], [], list(chunks)

    async def receive():
        body = pending.pop(0) if pending else b""
        return {"type": "http.request", "body": body, "more_body": bool(pending)}

    async def send(message):
        sent.append(message)

    async def stand_in(scope, receive, send):
        while True:
            message = await receive()
            received_by_app.append(message)
            if message["type"] == "http.disconnect" or not message.get("more_body"):
                break
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    scope = {"type": "http", "path": path, "method": "POST", "headers": headers, "query_string": b"",
             "http_version": "1.1", "scheme": "http", "server": ("testserver", 80), "client": ("127.0.0.1", 1)}
    asyncio.run(limit_request_body(app or stand_in)(scope, receive, send))
    return received_by_app, sent


def _assert_413(sent, *, api=True):
    assert [m["type"] for m in sent] == ["http.response.start", "http.response.body"], sent
    assert sent[0]["status"] == 413
    headers = dict(sent[0]["headers"])
    assert headers[b"connection"] == b"close" and int(headers[b"content-length"]) == len(sent[1]["body"])
    if api:
        assert headers[b"content-type"] == b"application/json" and b'"request_too_large"' in sent[1]["body"]
    else:
        assert headers[b"content-type"].startswith(b"text/plain") and b"larger than the 1000 bytes" in sent[1]["body"]
    assert not sent[1].get("more_body")


def test_asgi_a_declared_length_over_the_limit_is_a_413_and_django_never_runs(settings):
    settings.MAX_REQUEST_BYTES = 1000
    received, sent = _asgi_call([(b"content-length", b"5000000000")], [b"x" * 10])
    assert received == []  # the app (Django) was never called
    _assert_413(sent)


def test_asgi_a_chunked_body_over_the_limit_is_cut_off_and_answered_413(settings):
    settings.MAX_REQUEST_BYTES = 1000
    received, sent = _asgi_call([(b"transfer-encoding", b"chunked")], [b"x" * 600, b"x" * 600, b"x" * 600])
    assert [m["type"] for m in received] == ["http.request", "http.disconnect"]
    _assert_413(sent)  # the app's own 200, sent after the disconnect, is dropped
    _, sent = _asgi_call([(b"transfer-encoding", b"chunked")], [b"x" * 1001], path="/accounts/login/")
    _assert_413(sent, api=False)
    received, sent = _asgi_call([(b"content-length", b"900")], [b"x" * 450, b"x" * 450])
    assert [m["type"] for m in received] == ["http.request", "http.request"] and sent[0]["status"] == 200


def test_asgi_django_itself_gets_a_413_out_for_a_chunked_body_over_the_limit(settings):
    """Django's ASGI handler answers nothing at all when its body read ends in a disconnect
    (RequestAborted): the 413 must come from the wrapper, or the client waits forever."""
    settings.MAX_REQUEST_BYTES = 1000
    _, sent = _asgi_call([(b"transfer-encoding", b"chunked"), (b"content-type", b"application/octet-stream")],
                         [b"x" * 600] * 3, app=ASGIHandler())
    _assert_413(sent)


def _http_exchange(port: int, request: bytes, timeout: float) -> bytes:
    """Send `request` on a raw socket; the one response that comes back (head and
    Content-Length body), or what had arrived when `timeout` ran out or the server closed."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(request)
        answer, deadline = b"", time.monotonic() + timeout
        while time.monotonic() < deadline:
            head, _, body = answer.partition(b"\r\n\r\n")
            length = re.search(rb"(?im)^content-length:\s*(\d+)", head) if _ else None
            if length and len(body) >= int(length.group(1)):
                break
            sock.settimeout(max(0.01, deadline - time.monotonic()))
            try:
                chunk = sock.recv(65536)
            except socket.timeout:
                break
            if not chunk:
                break
            answer += chunk
        return answer


@pytest.fixture
def daphne_port(daphne_server):
    """daphne serving mozukai_hub.asgi:application with the suite's settings and
    MAX_REQUEST_BYTES=1000, on a free port."""
    return int(daphne_server(DJANGO_SETTINGS_MODULE="mozukai_hub.settings", MAX_REQUEST_BYTES="1000").rsplit(":", 1)[1])


@pytest.mark.slow
def test_daphne_answers_a_chunked_body_over_the_limit_with_a_413(daphne_port):
    chunk = b"x" * 600
    body = b"".join(b"%x\r\n%s\r\n" % (len(chunk), chunk) for _ in range(3)) + b"0\r\n\r\n"
    request = (b"POST /api/v1/assets/upload HTTP/1.1\r\nHost: 127.0.0.1\r\n"
               b"Content-Type: application/octet-stream\r\nTransfer-Encoding: chunked\r\n\r\n" + body)
    started = time.monotonic()
    answer = _http_exchange(daphne_port, request, timeout=5)
    assert answer.startswith(b"HTTP/1.1 413 "), answer[:500]
    assert b'"request_too_large"' in answer and time.monotonic() - started < 5
    declared = (b"POST /accounts/login/ HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 1500\r\n\r\n" + b"x" * 1500)
    answer = _http_exchange(daphne_port, declared, timeout=5)
    assert answer.startswith(b"HTTP/1.1 413 ") and b"larger than the 1000 bytes" in answer, answer[:500]


def _max_request_bytes(**env) -> int:
    """MAX_REQUEST_BYTES as the settings compute it under `env` (and no MAX_REQUEST_BYTES)."""
    clean = {name: value for name, value in os.environ.items() if name != "MAX_REQUEST_BYTES"}
    done = subprocess.run([sys.executable, "-c", "from django.conf import settings; print(settings.MAX_REQUEST_BYTES)"],
                          env={**clean, "DJANGO_SETTINGS_MODULE": "mozukai_hub.settings", **env},
                          cwd=Path(__file__).resolve().parents[2], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return int(done.stdout)


def test_the_default_limit_leaves_room_for_an_admin_product_save_with_several_photos():
    # Product.image and the ProductImage inlines have no size limit of their own: 64 MiB at least.
    assert _max_request_bytes() == 64 * 1024 * 1024
    # A larger upload limit still raises it (plus 1 MiB for the form around the file).
    assert _max_request_bytes(PIPELINE_UPLOAD_MAX_BYTES=str(100 * 1024 * 1024)) == 101 * 1024 * 1024
