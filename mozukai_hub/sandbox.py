"""One way to run an outside program (OpenSCAD, ffmpeg, espeak-ng, COLMAP) on untrusted input.

`run_program` starts the program:
- in a session and process group of its own, so the whole group (everything it forked) can be
  killed at once, and is: on timeout, when `while_waiting` raises, and when the program exits
  (nothing it started may outlive the run);
- under util-linux `prlimit`, which sets the limits on itself and then execs the program, so no
  Python runs between fork and exec (a `preexec_fn` can deadlock a threaded worker);
- with a small environment (PATH, locale, HOME and TMPDIR in its working directory) plus what the
  caller passes: the worker's secrets are not the program's business;
- with stdout and stderr merged and handed to `on_line` line by line as they come, in the
  caller's thread (so the callback may use the database).

The limits: `memory_bytes` (address space), `file_bytes` (largest file it may write),
`cpu_seconds` (CPU time of the process, all threads together; None sets none, the wall-clock
limit still applies), core dumps off. What it cannot do: a program that calls setsid() itself
leaves the group; that needs cgroups or a container, which the worker does not assume.
"""

import os
import queue
import shutil
import signal
import subprocess
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

TAIL_CHARS = 4000
MAX_LINE_BYTES = 8192  # a longer line is delivered in pieces of this size
TICK_SECONDS = 0.5  # how often while_waiting is called
QUEUE_LINES = 1000  # lines read ahead of on_line; also the most delivered between two checks


@dataclass
class ProgramResult:
    returncode: int
    output_tail: str  # the last TAIL_CHARS characters of stdout + stderr
    seconds: float


class ProgramTimeout(Exception):
    """The wall-clock limit was hit; the program's whole process group was killed."""

    def __init__(self, message: str, *, output_tail: str = "", seconds: float = 0.0):
        super().__init__(message)
        self.output_tail, self.seconds = output_tail, seconds


class ProgramMissing(Exception):
    """The program, or util-linux `prlimit`, is not installed."""


def _environment(cwd: Path, extra: dict | None) -> dict:
    env = {
        "PATH": os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin"),
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "HOME": str(cwd),
        "TMPDIR": str(cwd),
    }
    env.update(extra or {})
    return env


def _command(argv: list[str], *, env: dict, memory_bytes: int, file_bytes: int, cpu_seconds: int | None) -> list[str]:
    if not argv:
        raise ValueError("argv is empty")
    binary = shutil.which(argv[0], path=env["PATH"])
    if binary is None:
        raise ProgramMissing(f"{argv[0]} is not installed on this worker.")
    prlimit = shutil.which("prlimit")  # the worker's, whatever PATH the program gets
    if prlimit is None:
        raise ProgramMissing("prlimit (util-linux) is not installed on this worker.")
    limits = [f"--as={int(memory_bytes)}", f"--fsize={int(file_bytes)}", "--core=0"]
    if cpu_seconds is not None:
        limits.append(f"--cpu={int(cpu_seconds)}")
    return [prlimit, *limits, "--", binary, *argv[1:]]


class _Output:
    """The program's merged output: a reader thread fills a bounded queue, `pump` hands lines
    to `on_line` in the caller's thread and keeps the tail.

    The queue is bounded, so a program that writes faster than `on_line` keeps up waits on its
    pipe instead of filling the worker's memory.
    """

    def __init__(self, stream, on_line: Callable[[str], None] | None):
        self.stream, self.on_line = stream, on_line
        self.lines: queue.Queue = queue.Queue(maxsize=QUEUE_LINES)
        self.stop = threading.Event()
        self.ended = False
        self.tail: deque[str] = deque()
        self.tail_chars = 0
        self.reader = threading.Thread(target=self._read, daemon=True, name="program-output")
        self.reader.start()

    def _put(self, item) -> bool:
        while not self.stop.is_set():
            try:
                self.lines.put(item, timeout=0.2)
                return True
            except queue.Full:
                continue
        return False

    def _read(self) -> None:
        try:
            for raw in iter(lambda: self.stream.readline(MAX_LINE_BYTES), b""):
                if not self._put(raw.decode("utf-8", errors="replace").rstrip("\r\n")):
                    return
        except (OSError, ValueError):
            pass  # the pipe was closed under us: the run is over either way
        self._put(None)

    def pump(self, wait: float) -> None:
        """Deliver up to QUEUE_LINES lines, waiting up to `wait` for the first one."""
        for n in range(QUEUE_LINES):
            if self.ended:
                return
            try:
                line = self.lines.get(timeout=wait) if n == 0 and wait > 0 else self.lines.get_nowait()
            except queue.Empty:
                return
            if line is None:
                self.ended = True
                return
            self.tail.append(line)
            self.tail_chars += len(line) + 1
            while self.tail_chars > TAIL_CHARS and len(self.tail) > 1:
                self.tail_chars -= len(self.tail.popleft()) + 1
            if self.on_line is not None:
                self.on_line(line)

    def drain(self, seconds: float = 5.0) -> None:
        """Once the group is dead: deliver what is left (the pipe keeps it after the writers die)."""
        give_up = time.monotonic() + seconds
        while not self.ended and time.monotonic() < give_up:
            self.pump(0.2)

    def output_tail(self) -> str:
        return "\n".join(self.tail)[-TAIL_CHARS:]

    def close(self) -> None:
        self.stop.set()
        self.reader.join(timeout=1)
        self.stream.close()


def _exited(pid: int) -> bool:
    """Has the leader exited? Leaves it a zombie (WNOWAIT), so its group id cannot be reused
    by another process before we kill the group."""
    return os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None


def _kill_group(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except ProcessLookupError:
        pass  # the group is already gone
    except PermissionError:
        pass  # only the unreaped leader is left (a zombie cannot be signalled on some kernels)


def run_program(
    argv: list[str],
    *,
    cwd: Path,
    timeout_seconds: float,
    memory_bytes: int,
    file_bytes: int,
    cpu_seconds: int | None = None,
    env: dict | None = None,
    on_line: Callable[[str], None] | None = None,
    while_waiting: Callable[[], None] | None = None,
) -> ProgramResult:
    """Run `argv` sandboxed; return its exit status and output tail.

    Raises ProgramMissing (not installed), ProgramTimeout (wall clock), or whatever `on_line` or
    `while_waiting` raise (a cancellation); the process group is dead before any of them leave.
    """
    environment = _environment(Path(cwd), env)
    command = _command(argv, env=environment, memory_bytes=memory_bytes, file_bytes=file_bytes, cpu_seconds=cpu_seconds)
    started = time.monotonic()
    try:
        process = subprocess.Popen(
            command, cwd=cwd, env=environment, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, start_new_session=True, close_fds=True,
        )
    except FileNotFoundError as exc:  # removed between the lookup and the exec
        raise ProgramMissing(f"{exc.filename or argv[0]} is not installed on this worker.")
    output = _Output(process.stdout, on_line)
    deadline = started + timeout_seconds
    next_tick = started + TICK_SECONDS
    try:
        while not _exited(process.pid):
            now = time.monotonic()
            if now >= deadline:
                raise ProgramTimeout(
                    f"{Path(argv[0]).name} took longer than {timeout_seconds:g} s.",
                    output_tail=output.output_tail(), seconds=now - started,
                )
            if while_waiting is not None and now >= next_tick:
                while_waiting()
                next_tick = now + TICK_SECONDS
            if output.ended:
                time.sleep(0.05)
            else:
                output.pump(min(0.1, deadline - now))
        _kill_group(process.pid)  # the leader is still unreaped here: the group id is ours
        process.wait()
        output.drain()
    finally:
        if process.returncode is None:  # left early (timeout, cancel): same kill, same order
            _kill_group(process.pid)
            process.wait()
        output.close()
    return ProgramResult(returncode=process.returncode, output_tail=output.output_tail(), seconds=time.monotonic() - started)
