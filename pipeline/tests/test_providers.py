"""The provider client against a local HTTP server that answers from a script, as providers do:
retries and Retry-After, creates never resubmitted, classified errors, capped downloads."""

import json
import socket
import threading
import time
from email.utils import format_datetime
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from mozukai_hub.testing.servers import json_reply
from pipeline.providers import ProviderClient, ProviderError, retry_after_seconds


class Scripted(BaseHTTPRequestHandler):
    """Each request takes the next scripted answer for its path (then 200 {"ok": true}).

    An answer is (status, headers, body) or one of: "drop" (close without answering),
    "slow" (answer after 2 s), ("bytes", n, declare_length) for a file of n bytes.
    """

    protocol_version = "HTTP/1.1"
    state: dict = {}

    def _handle(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        s = Scripted.state
        s["calls"].append({"method": self.command, "path": self.path, "auth": self.headers.get("Authorization"),
                           "body": body, "at": time.monotonic()})
        answers = s["script"].get(self.path) or []
        answer = answers.pop(0) if answers else (200, {}, {"ok": True})
        if answer == "drop":
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        if answer == "slow":
            time.sleep(2)
            answer = (200, {}, {"ok": True})
        if answer[0] == "bytes":
            _, size, declare = answer
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            if declare:
                self.send_header("Content-Length", str(size))
            else:
                self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            chunk = b"x" * 65536
            sent = 0
            try:
                while sent < size:
                    piece = chunk[: min(len(chunk), size - sent)]
                    self.wfile.write(piece if declare else b"%x\r\n%s\r\n" % (len(piece), piece))
                    sent += len(piece)
                if not declare:
                    self.wfile.write(b"0\r\n\r\n")
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client stopped reading: what a size cap does
            return
        status, headers, payload = answer
        json_reply(self, status, payload, headers)

    do_GET = do_POST = _handle

    def log_message(self, *args):
        pass


@pytest.fixture
def provider():
    Scripted.state = {"calls": [], "script": {}}
    server = ThreadingHTTPServer(("127.0.0.1", 0), Scripted)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_port}"
    Scripted.state["base"] = base
    yield Scripted.state
    server.shutdown()
    server.server_close()


def _client(state, **kwargs) -> ProviderClient:
    kwargs.setdefault("timeout", 1)
    kwargs.setdefault("backoff", 0.05)
    return ProviderClient("Acme", state["base"] + "/v1", {"Authorization": "Bearer key"}, **kwargs)


def test_success_sends_the_headers_and_parses_json(provider):
    with _client(provider) as client:
        assert client.request("POST", "/jobs", json={"a": 1}) == {"ok": True}
    (call,) = provider["calls"]
    assert (call["method"], call["path"], call["auth"], json.loads(call["body"])) == ("POST", "/v1/jobs", "Bearer key", {"a": 1})


def test_429_is_retried_after_the_time_retry_after_asks(provider):
    provider["script"]["/v1/jobs"] = [(429, {"Retry-After": "1"}, {"error": "slow down"})]
    with _client(provider) as client:
        assert client.request("POST", "/jobs", once=True) == {"ok": True}
    first, second = provider["calls"]
    assert second["at"] - first["at"] >= 0.95


def test_a_retry_after_beyond_the_cap_fails_at_once(provider):
    provider["script"]["/v1/jobs"] = [(429, {"Retry-After": "3600"}, {})]
    began = time.monotonic()
    with _client(provider, max_retry_after=5) as client, pytest.raises(ProviderError) as failure:
        client.request("GET", "/jobs")
    assert failure.value.error_type == "provider_unavailable" and "3600" in str(failure.value)
    assert len(provider["calls"]) == 1 and time.monotonic() - began < 2


def test_retry_after_as_an_http_date():
    when = datetime.now(timezone.utc) + timedelta(seconds=30)
    assert 27 <= retry_after_seconds(format_datetime(when, usegmt=True)) <= 30
    assert retry_after_seconds("2") == 2 and retry_after_seconds("soon") is None and retry_after_seconds(None) is None


def test_5xx_is_retried_for_a_read_but_never_for_a_create(provider):
    provider["script"]["/v1/status"] = [(503, {}, {}), (502, {}, {})]
    provider["script"]["/v1/run"] = [(503, {}, {"error": "maybe queued"})]
    with _client(provider) as client:
        assert client.request("GET", "/status") == {"ok": True}
        with pytest.raises(ProviderError) as failure:
            client.request("POST", "/run", once=True)
    assert failure.value.error_type == "provider_unavailable" and failure.value.status_code == 503
    assert [c["path"] for c in provider["calls"]] == ["/v1/status"] * 3 + ["/v1/run"]


def test_retries_are_bounded(provider):
    provider["script"]["/v1/status"] = [(500, {}, {})] * 10
    with _client(provider, attempts=3) as client, pytest.raises(ProviderError) as failure:
        client.request("GET", "/status")
    assert failure.value.error_type == "provider_unavailable" and len(provider["calls"]) == 3


def test_a_lost_answer_to_a_create_is_not_resubmitted(provider):
    provider["script"]["/v1/run"] = ["drop"]
    provider["script"]["/v1/status"] = ["drop"]
    with _client(provider) as client:
        with pytest.raises(ProviderError) as failure:
            client.request("POST", "/run", once=True)
        assert "not resubmitted" in str(failure.value)
        assert client.request("GET", "/status") == {"ok": True}  # a read is simply asked again
    assert [c["path"] for c in provider["calls"]] == ["/v1/run", "/v1/status", "/v1/status"]


def test_a_create_that_times_out_is_not_resubmitted(provider):
    provider["script"]["/v1/run"] = ["slow"]
    with _client(provider, timeout=0.5) as client, pytest.raises(ProviderError) as failure:
        client.request("POST", "/run", once=True)
    assert failure.value.error_type == "provider_timeout" and len(provider["calls"]) == 1


def test_a_connection_refused_is_retried_even_for_a_create():
    """Nothing reached the provider, so submitting again cannot start a second job."""
    Scripted.state = {"calls": [], "script": {}}
    server = ThreadingHTTPServer(("127.0.0.1", 0), Scripted, bind_and_activate=False)
    server.server_bind()  # bound but not listening: connections are refused
    Scripted.state["base"] = f"http://127.0.0.1:{server.server_address[1]}"

    def open_later():
        time.sleep(0.3)
        server.server_activate()
        server.serve_forever()

    threading.Thread(target=open_later, daemon=True).start()
    try:
        with _client(Scripted.state, backoff=0.5, attempts=4) as client:
            assert client.request("POST", "/run", once=True) == {"ok": True}
        assert len(Scripted.state["calls"]) == 1
    finally:
        server.shutdown()
        server.server_close()


def test_auth_errors_are_classified_and_not_retried(provider):
    provider["script"]["/v1/run"] = [(401, {}, {"error": "bad key"})]
    provider["script"]["/v1/other"] = [(403, {}, {"error": "forbidden"})]
    with _client(provider) as client:
        for path in ("/run", "/other"):
            with pytest.raises(ProviderError) as failure:
                client.request("POST", path)
            assert failure.value.error_type == "provider_auth"
    assert len(provider["calls"]) == 2


def test_other_4xx_is_rejected_with_the_providers_words(provider):
    provider["script"]["/v1/run"] = [(400, {}, {"error": {"message": "prompt too long"}})]
    with _client(provider) as client, pytest.raises(ProviderError) as failure:
        client.request("POST", "/run")
    assert failure.value.error_type == "provider_rejected" and failure.value.status_code == 400
    assert "prompt too long" in failure.value.detail and len(provider["calls"]) == 1


def test_an_answer_that_is_not_json(provider):
    provider["script"]["/v1/run"] = [(200, {}, b"<html>gateway</html>")]
    with _client(provider) as client, pytest.raises(ProviderError) as failure:
        client.request("POST", "/run")
    assert failure.value.error_type == "provider_output"


def test_download_copies_the_file(provider, tmp_path):
    provider["script"]["/files/a.bin"] = [(503, {}, {}), ("bytes", 200_000, True)]
    target = tmp_path / "a.bin"
    with _client(provider) as client:
        assert client.download(f"{provider['base']}/files/a.bin", target, max_bytes=300_000) == 200_000
    assert target.read_bytes() == b"x" * 200_000


@pytest.mark.parametrize("declared", [True, False], ids=["content-length", "chunked"])
def test_download_refuses_an_oversize_file(provider, tmp_path, declared):
    provider["script"]["/files/big.bin"] = [("bytes", 2_000_000, declared)]
    target = tmp_path / "big.bin"
    with _client(provider) as client, pytest.raises(ProviderError) as failure:
        client.download(f"{provider['base']}/files/big.bin", target, max_bytes=100_000)
    assert failure.value.error_type == "provider_output" and "larger than" in str(failure.value)
    assert not target.exists()


def test_download_of_a_missing_file(provider, tmp_path):
    provider["script"]["/files/gone.bin"] = [(404, {}, {"error": "expired"})]
    with _client(provider) as client, pytest.raises(ProviderError) as failure:
        client.download(f"{provider['base']}/files/gone.bin", tmp_path / "gone.bin", max_bytes=100)
    assert failure.value.error_type == "provider_output" and len(provider["calls"]) == 1


def test_api_keys_go_only_to_the_providers_own_origin(provider, tmp_path):
    """An output URL on another host (a signed storage URL) never sees our key."""
    port = provider["base"].rsplit(":", 1)[1]
    provider["script"]["/files/a.bin"] = [("bytes", 10, True), ("bytes", 10, True)]
    with _client(provider) as client:
        client.download(f"http://127.0.0.1:{port}/files/a.bin", tmp_path / "same", max_bytes=100)
        client.download(f"http://localhost:{port}/files/a.bin", tmp_path / "other", max_bytes=100)
        client.request("GET", f"http://localhost:{port}/v1/status")
    assert [c["auth"] for c in provider["calls"]] == ["Bearer key", None, None]


def test_addresses_on_a_private_network_are_never_fetched_for_a_public_provider(provider, tmp_path):
    """A provider's answer is not a way into our network: off its own origin, a URL must resolve
    to public addresses (the provider here is a public address: literal IPs need no DNS)."""
    port = provider["base"].rsplit(":", 1)[1]
    with ProviderClient("public", "http://93.184.216.34", {"Authorization": "Bearer key"}, attempts=1) as client:
        for url in (f"http://127.0.0.1:{port}/files/a.bin", "http://169.254.169.254/latest/meta-data/",
                    f"http://[::1]:{port}/files/a.bin", "http://10.0.0.8/x", "file:///etc/passwd"):
            with pytest.raises(ProviderError) as refused:
                client.download(url, tmp_path / "out", max_bytes=100)
            assert refused.value.error_type == "provider_output", url
            with pytest.raises(ProviderError):
                client.request("GET", url)
    assert provider["calls"] == [] and not (tmp_path / "out").exists()
