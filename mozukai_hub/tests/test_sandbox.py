"""The sandbox with real programs: process groups, limits, streaming, timeouts and cancels."""

import os
import sys
import time
from pathlib import Path

import pytest

from mozukai_hub.sandbox import ProgramMissing, ProgramTimeout, run_program

MiB = 1024 * 1024
LIMITS = {"memory_bytes": 1024 * MiB, "file_bytes": 10 * MiB}
# A shell that starts two grandchildren (sleep, and a shell that starts its own sleep), prints
# its process group and the pids, then waits.
FORKING = "sleep 60 & a=$!; sh -c 'sleep 60 & wait' & b=$!; echo pgid=$(ps -o pgid= -p $$ | tr -d ' ') pids=$a,$b; wait"


def _alive(pid: int) -> bool:
    """Running or stopped (a zombie waiting for its parent to reap it is dead)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state != "Z"


def _group_members(pgid: int) -> list[int]:
    members = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError):
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            members.append(int(entry.name))
    return members


def _assert_group_gone(started: dict) -> None:
    """No live process in the program's group, and neither grandchild alive (polled: the kernel
    finishes a SIGKILL asynchronously)."""
    pgid, pids = started["pgid"], started["pids"]
    deadline = time.monotonic() + 5
    while _group_members(pgid) or any(_alive(pid) for pid in pids):
        assert time.monotonic() < deadline, f"left running: {_group_members(pgid)}"
        time.sleep(0.05)


def _recorder(started: dict):
    def on_line(line: str) -> None:
        if line.startswith("pgid="):
            pgid, pids = line.split()
            started["pgid"] = int(pgid.removeprefix("pgid="))
            started["pids"] = [int(p) for p in pids.removeprefix("pids=").split(",")]
    return on_line


def test_output_is_merged_and_delivered_in_order(tmp_path):
    script = "import sys\nfor i in range(1000):\n    print(f'line {i}', file=sys.stderr if i % 2 else sys.stdout, flush=True)\nsys.exit(3)"
    lines = []
    result = run_program([sys.executable, "-c", script], cwd=tmp_path, timeout_seconds=20, on_line=lines.append, **LIMITS)
    assert lines == [f"line {i}" for i in range(1000)]
    assert result.returncode == 3 and result.output_tail.endswith("line 998\nline 999") and result.seconds < 20
    assert len(result.output_tail) <= 4000 and not result.output_tail.startswith("line 0\n")


def test_lines_arrive_while_the_program_runs(tmp_path):
    """The program waits for a file that only the callback for its first line creates: were the
    lines handed over at the end, it would never see it and give up."""
    flag = tmp_path / "seen"
    script = (
        "import os, sys, time\n"
        "print('first', flush=True)\n"
        "deadline = time.monotonic() + 5\n"
        f"while not os.path.exists({str(flag)!r}):\n"
        "    if time.monotonic() > deadline: sys.exit('never saw the callback')\n"
        "    time.sleep(0.02)\n"
        "print('second', flush=True)\n"
    )
    lines = []

    def on_line(line):
        lines.append(line)
        if line == "first":
            flag.touch()

    result = run_program([sys.executable, "-c", script], cwd=tmp_path, timeout_seconds=20, on_line=on_line, **LIMITS)
    assert (result.returncode, lines) == (0, ["first", "second"])


def test_runs_in_its_own_session_with_a_small_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("STRIPE_SECRET_KEY", "sk_live_do_not_leak")
    script = 'echo "sid=$(ps -o sid= -p $$ | tr -d \' \') home=$HOME secret=${STRIPE_SECRET_KEY:-none} extra=$EXTRA"'
    result = run_program(["sh", "-c", script], cwd=tmp_path, timeout_seconds=10, env={"EXTRA": "yes"}, **LIMITS)
    facts = dict(pair.split("=", 1) for pair in result.output_tail.split())
    assert facts["sid"] != str(os.getsid(0))
    assert facts == {"sid": facts["sid"], "home": str(tmp_path), "secret": "none", "extra": "yes"}


def test_limits_are_set_on_the_program(tmp_path):
    result = run_program(
        ["sh", "-c", 'echo "$(ulimit -v) $(ulimit -f) $(ulimit -t) $(ulimit -c)"'],
        cwd=tmp_path, timeout_seconds=10, memory_bytes=512 * MiB, file_bytes=4 * MiB, cpu_seconds=9,
    )
    assert result.output_tail.split() == [str(512 * 1024), str(4 * MiB // 512), "9", "0"]  # KiB, 512-byte blocks


def test_memory_limit_refuses_a_big_allocation(tmp_path):
    grab = "import sys\nn = int(sys.argv[1])\nblock = bytearray(n * 1024 * 1024)\nprint('got', n, 'MiB')"
    small = run_program([sys.executable, "-c", grab, "16"], cwd=tmp_path, timeout_seconds=20,
                        memory_bytes=256 * MiB, file_bytes=MiB)
    assert small.returncode == 0 and "got 16 MiB" in small.output_tail
    big = run_program([sys.executable, "-c", grab, "512"], cwd=tmp_path, timeout_seconds=20,
                      memory_bytes=256 * MiB, file_bytes=MiB)
    assert big.returncode != 0 and "MemoryError" in big.output_tail and "got" not in big.output_tail


def test_file_size_limit_stops_a_big_write(tmp_path):
    result = run_program(["sh", "-c", "head -c 5000000 /dev/zero > big.bin; echo wrote"], cwd=tmp_path,
                         timeout_seconds=20, memory_bytes=256 * MiB, file_bytes=MiB)
    assert (tmp_path / "big.bin").stat().st_size == MiB  # cut at the limit (head was killed there)
    assert "wrote" in result.output_tail


def test_cpu_limit_stops_a_busy_loop(tmp_path):
    result = run_program([sys.executable, "-c", "while True: pass"], cwd=tmp_path, timeout_seconds=30,
                         cpu_seconds=1, **LIMITS)
    assert result.returncode < 0 and result.seconds < 10  # killed by SIGXCPU/SIGKILL, not by the wall clock


def test_timeout_kills_the_whole_group(tmp_path):
    started: dict = {}
    began = time.monotonic()
    with pytest.raises(ProgramTimeout) as timeout:
        run_program(["sh", "-c", FORKING], cwd=tmp_path, timeout_seconds=1.5, on_line=_recorder(started), **LIMITS)
    assert time.monotonic() - began < 5
    assert started["pids"] and "pgid=" in timeout.value.output_tail and timeout.value.seconds >= 1.5
    _assert_group_gone(started)


def test_cancel_kills_the_whole_group_and_propagates(tmp_path):
    started: dict = {}
    checks = []

    class Cancelled(Exception):
        pass

    def while_waiting():
        checks.append(time.monotonic())
        if started:
            raise Cancelled

    with pytest.raises(Cancelled):
        run_program(["sh", "-c", FORKING], cwd=tmp_path, timeout_seconds=30, on_line=_recorder(started),
                    while_waiting=while_waiting, **LIMITS)
    assert checks and checks[-1] - checks[0] < 5
    _assert_group_gone(started)


def test_an_exception_from_on_line_kills_the_group(tmp_path):
    started: dict = {}
    record = _recorder(started)

    def on_line(line):
        record(line)
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        run_program(["sh", "-c", FORKING], cwd=tmp_path, timeout_seconds=30, on_line=on_line, **LIMITS)
    _assert_group_gone(started)


def test_what_the_program_leaves_behind_is_killed_when_it_exits(tmp_path):
    """A background child that outlives its parent (and holds the output pipe) dies with the run."""
    started: dict = {}
    result = run_program(["sh", "-c", "sleep 60 & echo pgid=$$ pids=$!; exit 0"], cwd=tmp_path, timeout_seconds=30,
                         on_line=_recorder(started), **LIMITS)
    assert result.returncode == 0 and result.seconds < 10
    _assert_group_gone(started)


def test_missing_program(tmp_path):
    with pytest.raises(ProgramMissing, match="no-such-program-here"):
        run_program(["no-such-program-here"], cwd=tmp_path, timeout_seconds=5, **LIMITS)


def test_missing_prlimit(tmp_path, monkeypatch):
    """A worker whose PATH has the program but not util-linux's prlimit."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "hello").write_text("#!/bin/sh\necho hello\n")
    (bin_dir / "hello").chmod(0o755)
    monkeypatch.setenv("PATH", str(bin_dir))
    with pytest.raises(ProgramMissing, match="prlimit"):
        run_program(["hello"], cwd=tmp_path, timeout_seconds=5, **LIMITS)
