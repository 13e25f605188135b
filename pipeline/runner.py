"""What an engine sees while it runs: a lease kept alive, stages, progress, logs and outputs."""

import logging
import shutil
import tempfile
import threading
import time
import uuid
from pathlib import Path

from django.conf import settings
from django.db import DatabaseError, close_old_connections, connection

from . import services
from .models import Job

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
        if status is None or status in {"completed", "failed", "cancelled"}:
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
