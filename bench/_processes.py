"""What the benchmarks share: percentiles and the servers they start (each in a process group of
its own, stopped group and all). Import after `sys.path` has the project root."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from pathlib import Path

from mozukai_hub.testing.services import free_port  # noqa: F401 (re-exported for the benches)

ROOT = Path(__file__).resolve().parent.parent


def percentile(values: list[float], q: float) -> float:
    """The value at quantile q (0..1) of values, nearest rank."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def spawn(args: list[str], env: dict) -> subprocess.Popen:
    """Start a server in a session of its own; its output is appended to
    /tmp/bench-<name>-<pid>.log when BENCH_DEBUG is set, else goes nowhere."""
    if not os.environ.get("BENCH_DEBUG"):
        return subprocess.Popen(args, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                start_new_session=True)
    with open(f"/tmp/bench-{Path(args[-1]).name}-{os.getpid()}.log", "a") as log:  # the child keeps its copy
        return subprocess.Popen(args, cwd=ROOT, env=env, stdout=log, stderr=log, start_new_session=True)


def stop(process: subprocess.Popen) -> None:
    """SIGTERM to the server's process group, SIGKILL after 15 s."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def wait_port(port: int, timeout: float = 30) -> None:
    """Until something listens on 127.0.0.1:port."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"nothing listens on {port}")
