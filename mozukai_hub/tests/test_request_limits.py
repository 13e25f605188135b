"""Bodies over MAX_REQUEST_BYTES are refused from their headers, before they are read."""

import asyncio
import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from mozukai_hub.request_limits import limit_request_body
from pipeline.models import Asset
from pipeline.tests.conftest import png_bytes


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


def _asgi_call(headers, chunks, *, path="/api/v1/assets/upload"):
    """Run the ASGI wrapper around a stand-in app; returns (what the app received, what was sent)."""
    received_by_app, sent, pending = [], [], list(chunks)

    async def receive():
        body = pending.pop(0) if pending else b""
        return {"type": "http.request", "body": body, "more_body": bool(pending)}

    async def send(message):
        sent.append(message)

    async def app(scope, receive, send):
        while True:
            message = await receive()
            received_by_app.append(message)
            if message["type"] == "http.disconnect" or not message.get("more_body"):
                break
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    scope = {"type": "http", "path": path, "method": "POST", "headers": headers}
    asyncio.run(limit_request_body(app)(scope, receive, send))
    return received_by_app, sent


def test_asgi_a_declared_length_over_the_limit_is_a_413_and_django_never_runs(settings):
    settings.MAX_REQUEST_BYTES = 1000
    received, sent = _asgi_call([(b"content-length", b"5000000000")], [b"x" * 10])
    assert received == []  # the app (Django) was never called
    assert sent[0]["status"] == 413 and b"request_too_large" in sent[1]["body"]


def test_asgi_a_chunked_body_is_cut_off_once_it_passes_the_limit(settings):
    settings.MAX_REQUEST_BYTES = 1000
    received, _ = _asgi_call([(b"transfer-encoding", b"chunked")], [b"x" * 600, b"x" * 600, b"x" * 600])
    assert [m["type"] for m in received] == ["http.request", "http.disconnect"]
    received, sent = _asgi_call([(b"content-length", b"900")], [b"x" * 450, b"x" * 450])
    assert [m["type"] for m in received] == ["http.request", "http.request"] and sent[0]["status"] == 200
