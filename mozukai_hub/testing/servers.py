"""Real servers for end-to-end tests: daphne serving `mozukai_hub.asgi:application` as
`make run` starts it (or gunicorn serving `mozukai_hub.wsgi`), in a process of its own (its
database connections end with it); and `json_reply` for the fake providers' handlers.

    def test_something(daphne_server):
        base_url = daphne_server(DEBUG="true")   # on the test database; stopped after the test
"""

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator, Mapping
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest

from .polling import wait_until
from .services import free_port

ROOT = Path(__file__).resolve().parents[2]


def database_url() -> str:
    """A DATABASE_URL, for a child process, of the database this test process uses (the test
    database once a test has asked for one)."""
    from django.db import connection

    db = connection.settings_dict
    return f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"


def json_reply(handler: BaseHTTPRequestHandler, status: int, payload: object,
               headers: Mapping[str, str] | None = None) -> None:
    """Answer the request a fake provider's handler is serving: `status`, `headers`, and
    `payload` as JSON (bytes are sent as they are, still labelled JSON), with its length."""
    data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    handler.send_response(status)
    for name, value in (headers or {}).items():
        handler.send_header(name, value)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", str(len(data)))
    handler.end_headers()
    handler.wfile.write(data)


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    try:
        socket.create_connection((host, port), timeout=0.2).close()
        return True
    except OSError:
        return False


def stop_process_group(process: subprocess.Popen, timeout: float = 20) -> None:
    """SIGTERM the process group of a process started with `start_new_session=True` (so its
    forks go too), then SIGKILL whatever is left after `timeout` seconds."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, sig)
        try:
            process.wait(timeout=timeout)
            return
        except subprocess.TimeoutExpired:
            continue


def _daphne_argv(port: int) -> list[str]:
    return [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "mozukai_hub.asgi:application"]


def _gunicorn_argv(port: int) -> list[str]:
    return [sys.executable, "-m", "gunicorn", "-b", f"127.0.0.1:{port}", "-w", "1", "mozukai_hub.wsgi"]


SERVERS = {"daphne": _daphne_argv, "gunicorn": _gunicorn_argv}


@contextlib.contextmanager
def app_server(kind: str = "daphne", env: dict[str, str | None] | None = None, *, log: Path | None = None,
               timeout: float = 30) -> Iterator[str]:
    """Run the app under `kind` ("daphne": the ASGI app, as `make run`; "gunicorn": the WSGI
    app, one worker) on a free port until the block ends; yield its base URL.

    `env` overrides this process's environment (a value of None removes the variable); the
    output goes to `log` (shown when the server fails to start) or nowhere.
    """
    port = free_port()
    full_env = dict(os.environ)
    for name, value in (env or {}).items():
        if value is None:
            full_env.pop(name, None)
        else:
            full_env[name] = value
    output = log.open("w") if log else None
    process = subprocess.Popen(
        SERVERS[kind](port), cwd=ROOT, env=full_env, start_new_session=True,
        stdout=output or subprocess.DEVNULL, stderr=subprocess.STDOUT if output else subprocess.DEVNULL,
    )

    def startup_log() -> str:
        return log.read_text(errors="replace")[-5000:] if log else "(no log kept)"

    try:
        wait_until(lambda: process.poll() is not None or port_open(port), timeout, interval=0.1,
                   message=lambda: f"{kind} did not listen within {timeout} s:\n{startup_log()}")
        assert process.poll() is None, f"{kind} exited with {process.returncode}:\n{startup_log()}"
        yield f"http://127.0.0.1:{port}"
    finally:
        stop_process_group(process)
        if output:
            output.close()


def daphne(env: dict[str, str | None] | None = None, *, log: Path | None = None, timeout: float = 30):
    """`app_server("daphne", ...)`: run daphne on a free port until the block ends; yield its base URL."""
    return app_server("daphne", env, log=log, timeout=timeout)


def _server_starter(kind: str, tmp_path: Path):
    from django.conf import settings

    with contextlib.ExitStack() as stack:
        started = 0

        def start(**env: str | None) -> str:
            nonlocal started
            started += 1
            base = {"DATABASE_URL": database_url(), "MEDIA_ROOT": str(settings.MEDIA_ROOT),
                    "LOG_LEVEL": "WARNING", "PYTHONUNBUFFERED": "1"}
            return stack.enter_context(app_server(kind, {**base, **env}, log=tmp_path / f"{kind}-{started}.log"))

        yield start


@pytest.fixture
def daphne_server(tmp_path):
    """Start daphne on the test database and the test's MEDIA_ROOT: `daphne_server(**env)`
    returns its base URL (env as for `daphne`); every one started is stopped after the test."""
    yield from _server_starter("daphne", tmp_path)


@pytest.fixture
def gunicorn_server(tmp_path):
    """As `daphne_server`, with gunicorn serving the WSGI app (one worker)."""
    yield from _server_starter("gunicorn", tmp_path)
