"""Throwaway PostgreSQL and Redis on loopback ports, for the test suite and the benchmarks.

    python -m mozukai_hub.testing.services -- pytest -q

starts a fresh PostgreSQL cluster (initdb + pg_ctl, durability off: it is thrown away) and a
redis-server, each on a free 127.0.0.1 port, runs the command with `DATABASE_URL` and
`REDIS_URL` pointing at them, then stops both and deletes their files, whatever the command
did. A missing server program is installed with apt-get when running as root; otherwise the
run stops at once with the exact command to run. Nothing is ever skipped silently.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

APT_PACKAGES = {"postgres": "postgresql", "redis": "redis-server"}


class MissingProgram(SystemExit):
    pass


def stop_process(process: subprocess.Popen, timeout: float = 10) -> None:
    """SIGTERM, then SIGKILL if it has not exited within `timeout` seconds."""
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _apt_install(package: str) -> None:
    print(f"[services] installing {package} with apt-get", file=sys.stderr, flush=True)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-qq"], check=True, env=env)
    subprocess.run(["apt-get", "install", "-y", "-qq", "--no-install-recommends", package], check=True, env=env)


def _require(find, what: str) -> str:
    found = find()
    if found:
        return found
    package = APT_PACKAGES[what]
    if os.geteuid() == 0 and shutil.which("apt-get"):
        _apt_install(package)
        found = find()
        if found:
            return found
    raise MissingProgram(
        f"[services] {what} is not installed. Run: sudo apt-get update && sudo apt-get install -y {package}"
    )


def _pg_bindir() -> str | None:
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), reverse=True)
    if shutil.which("initdb"):
        candidates.insert(0, os.path.realpath(shutil.which("initdb")))
    for initdb in candidates:
        bindir = os.path.dirname(initdb)
        if os.path.exists(os.path.join(bindir, "pg_ctl")):
            return bindir
    return None


def _redis_server() -> str | None:
    return shutil.which("redis-server") or (os.path.exists("/usr/bin/redis-server") and "/usr/bin/redis-server") or None


@contextlib.contextmanager
def postgres(*, durable: bool = False) -> Iterator[str]:
    """Yield a DATABASE_URL for a brand-new cluster; remove it afterwards.

    Tests run with durability off (the cluster is thrown away anyway). Benchmarks pass
    `durable=True` to measure with the commit cost a production server pays.
    """
    bindir = _require(_pg_bindir, "postgres")
    root = Path(tempfile.mkdtemp(prefix="mozukai-pg-"))
    data, log, sockets = root / "data", root / "postgres.log", root / "sockets"
    sockets.mkdir()
    # PostgreSQL refuses to run as root: run it as the packaged `postgres` user then.
    as_user: list[str] = []
    if os.geteuid() == 0:
        pw = pwd.getpwnam("postgres")
        for path in (root, sockets):
            os.chown(path, pw.pw_uid, pw.pw_gid)
        as_user = ["runuser", "-u", "postgres", "--"]
    port = free_port()

    def pg(*args: str, **kwargs) -> subprocess.CompletedProcess:
        return subprocess.run([*as_user, *args], check=True, stdout=subprocess.DEVNULL, **kwargs)

    try:
        pg(f"{bindir}/initdb", "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync")
        options = " ".join(
            [
                f"-p {port}",
                f"-k {sockets}",
                "-c listen_addresses=127.0.0.1",
                "-c max_connections=300",
                "-c shared_buffers=128MB",
                *([] if durable else ["-c fsync=off", "-c synchronous_commit=off", "-c full_page_writes=off"]),
            ]
        )
        pg(f"{bindir}/pg_ctl", "-D", str(data), "-l", str(log), "-o", options, "-w", "-t", "60", "start")
        pg(f"{bindir}/createdb", "-h", "127.0.0.1", "-p", str(port), "-U", "postgres", "mozukai")
        yield f"postgres://postgres@127.0.0.1:{port}/mozukai"
    finally:
        if (data / "postmaster.pid").exists():
            subprocess.run([*as_user, f"{bindir}/pg_ctl", "-D", str(data), "-m", "immediate", "-w", "stop"],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        shutil.rmtree(root, ignore_errors=True)


@contextlib.contextmanager
def redis() -> Iterator[str]:
    """Yield a REDIS_URL for a fresh, non-persistent redis-server; stop it afterwards."""
    binary = _require(_redis_server, "redis")
    port = free_port()
    process = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
         "--protected-mode", "yes", "--databases", "16"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
                    sock.sendall(b"PING\r\n")
                    if sock.recv(16).startswith(b"+PONG"):
                        break
            except OSError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("redis-server did not start")
            time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        stop_process(process)


@contextlib.contextmanager
def services() -> Iterator[dict[str, str]]:
    with postgres() as database_url, redis() as redis_url:
        yield {"DATABASE_URL": database_url, "REDIS_URL": redis_url}


def main(argv: list[str]) -> int:
    if "--" in argv:
        argv = argv[argv.index("--") + 1 :]
    if not argv:
        print("usage: python -m mozukai_hub.testing.services -- COMMAND [ARGS…]", file=sys.stderr)
        return 2
    with services() as urls:
        print(f"[services] PostgreSQL {urls['DATABASE_URL']}  Redis {urls['REDIS_URL']}", flush=True)
        return subprocess.call(argv, env={**os.environ, **urls})


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
