"""Serve the whole app on one machine: daphne (HTTP + websockets) and the django-q2 cluster.

Both run as child processes; Ctrl-C (or Ctrl-\\, SIGTERM, or SIGHUP when the terminal closes)
stops both, even while they are still being started, and if either exits the other is stopped
too, so nothing is left running behind the terminal.

Each child runs in its own process group, and stopping acts on the whole group, not only on
the child: the django-q2 cluster forks a sentinel and its workers, and when `qcluster` itself
dies abruptly (killed, out of memory) those forks live on as orphans that keep taking tasks
from the ORM broker — a second `make run` would then run two clusters on one database.
"""

import os
import signal
import subprocess
import sys
import time

from django.core.management.base import BaseCommand

# How long the children get to stop cleanly before their process groups are killed.
GRACE_SECONDS = 15
# Any of these stops both children (SIGHUP: the terminal closed; SIGQUIT: Ctrl-\).
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT)


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    return True


def _signal_group(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass


class Command(BaseCommand):
    help = "Run daphne and the django-q2 cluster together until interrupted."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", default="8000")

    def handle(self, *args, host, port, **options):
        commands = {
            "web": [sys.executable, "-m", "daphne", "--access-log", "/dev/null", "-b", host, "-p", str(port),
                    "mozukai_hub.asgi:application"],
            "worker": [sys.executable, "manage.py", "qcluster"],
        }
        children: dict[str, subprocess.Popen] = {}
        stopping = False

        def stop(*_):
            nonlocal stopping
            stopping = True

        # Before anything is started: a stop signal from here on only sets the flag (no
        # KeyboardInterrupt halfway through starting the children), and the finally below stops
        # whatever was started. The children's groups do not get the terminal's Ctrl-C or
        # Ctrl-\ (SIGQUIT), so a signal that ended this command would orphan them.
        previous = {sig: signal.signal(sig, stop) for sig in STOP_SIGNALS}
        try:
            for name, command in commands.items():
                if stopping:
                    break
                # process_group=0: each child leads a group of its own (pgid == its pid), holding
                # it and everything it forks. A terminal's Ctrl-C then reaches only this command,
                # which stops the children in order below.
                children[name] = subprocess.Popen(command, process_group=0)
            if not stopping:
                self.stdout.write(self.style.SUCCESS(f"Serving on http://{host}:{port}/  (Ctrl-C stops web and worker)"))
            while not stopping and all(child.poll() is None for child in children.values()):
                time.sleep(0.2)
        finally:
            self._stop(children)
            for sig, handler in previous.items():
                if handler is not None:  # (None: a handler not installed from Python)
                    signal.signal(sig, handler)
        failed = [name for name, child in children.items() if child.returncode not in (0, -2, -15, None) and not stopping]
        if failed:
            raise SystemExit(f"{', '.join(failed)} exited unexpectedly")

    def _stop(self, children: dict) -> None:
        for name, child in children.items():
            if child.poll() is None:
                # qcluster stops its cluster cleanly on SIGINT (its sentinel and workers ignore
                # SIGINT and are told by their parent); daphne on SIGTERM.
                child.send_signal(signal.SIGINT if name == "worker" else signal.SIGTERM)
            else:
                # The group's leader is gone: whatever it left behind (the cluster's sentinel and
                # workers) has no parent to stop it. SIGTERM ends them (their default action).
                _signal_group(child.pid, signal.SIGTERM)
        deadline = time.monotonic() + GRACE_SECONDS
        for child in children.values():
            try:
                child.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
        # Leaders reaped: anything still in their groups is an orphan now.
        for child in children.values():
            if _group_alive(child.pid):
                _signal_group(child.pid, signal.SIGTERM)
        deadline = time.monotonic() + 5
        while any(_group_alive(child.pid) for child in children.values()) and time.monotonic() < deadline:
            time.sleep(0.1)
        for child in children.values():
            if _group_alive(child.pid):
                _signal_group(child.pid, signal.SIGKILL)
