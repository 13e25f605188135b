"""Serve the whole app on one machine: daphne (HTTP + websockets) and the django-q2 cluster.

Both run as child processes; Ctrl-C (or SIGTERM) stops both, and if either exits the other
is stopped too, so nothing is left running behind the terminal.
"""

import signal
import subprocess
import sys
import time

from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Run daphne and the django-q2 cluster together until interrupted."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", default="8000")

    def handle(self, *args, host, port, **options):
        children = {
            "web": subprocess.Popen([sys.executable, "-m", "daphne", "--access-log", "/dev/null", "-b", host, "-p", str(port), "mozukai_hub.asgi:application"]),
            "worker": subprocess.Popen([sys.executable, "manage.py", "qcluster"]),
        }
        self.stdout.write(self.style.SUCCESS(f"Serving on http://{host}:{port}/  (Ctrl-C stops web and worker)"))
        stopping = False

        def stop(*_):
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        try:
            while not stopping and all(child.poll() is None for child in children.values()):
                time.sleep(0.2)
        finally:
            for name, child in children.items():
                if child.poll() is None:
                    child.send_signal(signal.SIGINT if name == "worker" else signal.SIGTERM)
            deadline = time.monotonic() + 15
            for child in children.values():
                try:
                    child.wait(timeout=max(0.1, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    child.kill()
        failed = [name for name, child in children.items() if child.returncode not in (0, -2, -15, None) and not stopping]
        if failed:
            raise SystemExit(f"{', '.join(failed)} exited unexpectedly")
