"""`manage.py run_stack`: a stop signal at any moment, even while the children are still being
started, stops every child already started (each runs in a process group of its own, so the
terminal's Ctrl-C or Ctrl-\\ reaches only run_stack; a child it does not stop is orphaned).

The children here are `sleep 60` processes standing in for daphne and qcluster: run_stack's
Popen is swapped in a subprocess that sends itself the signal right after a given child
starts, which is the gap between the two spawns (or, for "worker", just before the wait).
The end-to-end stack (real daphne and qcluster) is in test_embedded_default.py.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from mozukai_hub.management.commands.run_stack import _group_alive
from mozukai_hub.testing.polling import wait_until

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]

HARNESS = r"""
import os, signal, subprocess, sys
import django

django.setup()
from django.core.management import call_command

pid_file, signal_name, signal_after = sys.argv[1:4]
real_popen = subprocess.Popen


class StandIn(real_popen):
    def __init__(self, args, **kwargs):
        name = "worker" if "qcluster" in args else "web"
        # (no output: an orphan holding the test's pipes open would stall it until it ends)
        super().__init__(["sleep", "60"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, **kwargs)
        with open(pid_file, "a") as pids:
            pids.write(f"{self.pid}\n")
        if name == signal_after:
            os.kill(os.getpid(), getattr(signal, signal_name))


subprocess.Popen = StandIn
call_command("run_stack", "--port", "0")
"""


@pytest.mark.parametrize("signal_name", ["SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT"])
@pytest.mark.parametrize("signal_after", ["web", "worker"])
def test_a_stop_signal_while_the_children_start_leaves_none_running(tmp_path, signal_name, signal_after):
    pid_file = tmp_path / "pids"
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "mozukai_hub.settings"}
    done = subprocess.run([sys.executable, "-c", HARNESS, str(pid_file), signal_name, signal_after], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=40)
    pids = [int(line) for line in pid_file.read_text().split()] if pid_file.exists() else []
    try:
        assert pids, done.stderr
        # Orphans are reaped by init a moment later.
        wait_until(lambda: not any(_group_alive(pid) for pid in pids), 5, message=lambda: (
            f"children left running after {signal_name} (exit {done.returncode}): "
            f"{[pid for pid in pids if _group_alive(pid)]}\n{done.stderr[-3000:]}"))
        assert done.returncode == 0, done.stderr[-3000:]
        assert "Traceback" not in done.stderr, done.stderr[-3000:]
    finally:
        for pid in pids:
            if _group_alive(pid):
                os.killpg(pid, signal.SIGKILL)
