"""What an engine sees while it runs: a lease kept alive, stages, progress, logs and outputs."""

import logging
import re
import shutil
import tempfile
import threading
import time
import uuid
from collections import deque
from pathlib import Path

from django.conf import settings
from django.db import DatabaseError, close_old_connections, connection

from mozukai_hub.sandbox import ProgramResult, run_program

from . import services
from .models import Job
from .transitions import TERMINAL

logger = logging.getLogger(__name__)


class LeaseKeeper(threading.Thread):
    """Renews the job's lease every third of its length; flags `lost` when renewal fails.

    A database error is retried each interval while the lease we last got still runs; once it
    would have expired another worker may own the job, so the keeper flags `lost` and stops.
    """

    def __init__(self, job_id, lease_token: uuid.UUID):
        super().__init__(daemon=True, name=f"lease-{job_id}")
        self.job_id, self.lease_token = job_id, lease_token
        self.stopped, self.lost = threading.Event(), threading.Event()

    def run(self):
        interval = max(0.2, settings.PIPELINE_LEASE_SECONDS / 3)
        lease_ends = time.monotonic() + settings.PIPELINE_LEASE_SECONDS  # claimed just before we start
        try:
            while not self.stopped.wait(interval):
                attempted_at = time.monotonic()
                try:
                    renewed = services.job_lease_renew(job_id=self.job_id, lease_token=self.lease_token)
                except DatabaseError:
                    connection.close()  # the next attempt starts on a fresh connection
                    if time.monotonic() >= lease_ends:
                        logger.exception("job %s: lease renewal failed until the lease expired", self.job_id)
                        self.lost.set()
                        return
                    logger.warning("job %s: lease renewal failed; retrying", self.job_id, exc_info=True)
                    continue
                if not renewed:
                    self.lost.set()
                    return
                lease_ends = attempted_at + settings.PIPELINE_LEASE_SECONDS
        finally:
            connection.close()


class ProgramLog:
    """A program's output as a few readable `log` events (for staff; customers see stages).

    Lines are cleaned (terminal colours and control characters removed, long lines cut) and
    sent in batches: one event per BATCH_SECONDS or BATCH_CHARS, whichever comes first. After
    MAX_LINES lines only the last TAIL_LINES are kept, and logged at the end after a note of
    how many were skipped, so a chatty program cannot flood the job's events.
    """

    MAX_LINES = 300
    TAIL_LINES = 40
    LINE_CHARS = 300
    BATCH_CHARS = 1800
    BATCH_SECONDS = 1.0
    _ESCAPES = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b[@-_]|[\x00-\x08\x0b-\x1f\x7f]")

    def __init__(self, ctx: "JobContext", name: str):
        self.ctx, self.name = ctx, name
        self.batch: list[str] = []
        self.batch_chars = 0
        self.flushed_at = time.monotonic()
        self.logged = 0
        self.skipped: deque[str] = deque(maxlen=self.TAIL_LINES)
        self.skipped_count = 0

    def line(self, text: str) -> None:
        text = self._ESCAPES.sub("", text).replace("\t", "  ").rstrip()
        if not text.strip():
            return
        if len(text) > self.LINE_CHARS:
            text = text[: self.LINE_CHARS - 1] + "…"
        if self.logged >= self.MAX_LINES:
            self.skipped.append(text)
            self.skipped_count += 1
            return
        self.logged += 1
        self._add(text)
        self.tick()

    def _add(self, text: str) -> None:
        if self.batch and self.batch_chars + len(text) + 1 > self.BATCH_CHARS:
            self.flush()  # every event stays under ctx.log's 2000 characters
        self.batch.append(text)
        self.batch_chars += len(text) + 1

    def tick(self) -> None:
        if self.batch and time.monotonic() - self.flushed_at >= self.BATCH_SECONDS:
            self.flush()

    def flush(self) -> None:
        if self.batch:
            self.ctx.log(f"{self.name}:\n" + "\n".join(self.batch))
        self.batch, self.batch_chars, self.flushed_at = [], 0, time.monotonic()

    def close(self) -> None:
        hidden = self.skipped_count - len(self.skipped)
        if hidden:
            self._add(f"… {hidden} lines not logged …")
        for text in self.skipped:
            self._add(text)
        self.flush()


class JobContext:
    def __init__(self, job: Job, lease_token: uuid.UUID):
        self.job, self.lease_token = job, lease_token
        self.params = job.params
        self.workdir = Path(tempfile.mkdtemp(prefix=f"job-{job.pk}-"))
        self.keeper = LeaseKeeper(job.pk, lease_token)

    def __enter__(self):
        self.keeper.start()
        return self

    def __exit__(self, *exc):
        self.keeper.stopped.set()
        self.keeper.join(timeout=5)
        shutil.rmtree(self.workdir, ignore_errors=True)
        close_old_connections()
        return False

    def checkpoint(self) -> None:
        """Between stages: stop if the job was cancelled or ended, or our lease was lost."""
        if self.keeper.lost.is_set():
            raise services.JobAborted("lease lost")
        status = Job.objects.filter(pk=self.job.pk, lease_token=self.lease_token).values_list("status", flat=True).first()
        if status is None or status in TERMINAL:
            raise services.JobAborted(f"job is {status or 'no longer ours'}")

    def stage(self, status: str) -> None:
        self.checkpoint()
        services.job_stage(job_id=self.job.pk, lease_token=self.lease_token, status=status)

    def progress(self, percent: int, stage: str = "", message: str = "") -> None:
        self.checkpoint()
        services.job_progress(job_id=self.job.pk, lease_token=self.lease_token, progress=percent, stage=stage, message=message)

    def log(self, message: str) -> None:
        services.job_event_append(job=self.job, type="log", data={"message": message[:2000]})

    def output(self, *, path: Path, asset_type: str, primary: bool = False, content_type: str = "") -> dict:
        asset = services.asset_output_store(
            job=self.job, path=path, asset_type=asset_type, primary=primary, content_type=content_type,
        )
        services.job_event_append(
            job=self.job, type="output",
            data={"asset_id": str(asset.pk), "asset_type": asset_type, "primary": primary, "size": asset.size},
        )
        return {"asset_id": str(asset.pk), "asset_type": asset_type, "size": asset.size, "primary": primary}

    def run_program(self, argv: list[str], *, timeout_seconds: float, memory_bytes: int, file_bytes: int,
                    cpu_seconds: int | None = None, env: dict | None = None, cwd: Path | None = None,
                    on_line=None) -> ProgramResult:
        """`mozukai_hub.sandbox.run_program` in the job's work directory: its output goes to the
        job's log in readable batches, and a cancel (or a lost lease) kills it within a tick.
        `on_line(text)`, when given, also sees every line (an engine reading progress from a log).

        Raises what the sandbox raises (ProgramMissing, ProgramTimeout) and JobAborted.
        """
        program_log = ProgramLog(self, Path(argv[0]).name)

        def while_waiting() -> None:
            program_log.tick()
            self.checkpoint()

        def line(text: str) -> None:
            program_log.line(text)
            if on_line is not None:
                on_line(text)

        try:
            return run_program(
                argv, cwd=cwd or self.workdir, timeout_seconds=timeout_seconds, memory_bytes=memory_bytes,
                file_bytes=file_bytes, cpu_seconds=cpu_seconds, env=env, on_line=line,
                while_waiting=while_waiting,
            )
        finally:
            program_log.close()

    def provider_job_set(self, provider_job_id: str) -> None:
        """Record the provider's id for this job before waiting on it: a rerun after a worker
        death resumes that remote job instead of paying for a second one."""
        services.job_provider_job_set(job_id=self.job.pk, lease_token=self.lease_token, provider_job_id=provider_job_id)
        self.job.provider_job_id = provider_job_id

    def output_from_url(self, client, url: str, asset_type: str, primary: bool = False, content_type: str = "", *,
                        max_bytes: int | None = None) -> dict:
        """Copy a provider's output into our storage at once (its URLs expire) and record it."""
        path = self.workdir / f"download-{uuid.uuid4().hex}.{asset_type}"
        try:
            client.download(url, path, max_bytes=max_bytes or settings.PROVIDER_MAX_OUTPUT_BYTES)
            self.checkpoint()
            return self.output(path=path, asset_type=asset_type, primary=primary, content_type=content_type)
        finally:
            path.unlink(missing_ok=True)
