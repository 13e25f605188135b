"""django-q2 tasks. They take ids, are safe to run twice and bounded in attempts and time."""

import logging
import uuid

from botocore.exceptions import ConnectionError as S3ConnectionError
from botocore.exceptions import HTTPClientError as S3HTTPClientError

from mozukai_hub.api.errors import Conflict

from . import services
from .engines import EngineError, engine_get
from .models import Job
from .runner import JobContext

logger = logging.getLogger(__name__)


def job_run(job_id: str) -> str:
    """Run one job if it is ours to run (claimed by a conditional UPDATE); otherwise a no-op."""
    lease_token = uuid.uuid4()
    job = services.job_claim(job_id=job_id, lease_token=lease_token)
    if job is None:
        return "not claimable"
    try:
        engine = engine_get(kind=job.kind, name=job.engine)
    except KeyError:
        _fail(job.pk, lease_token, f"Engine {job.engine!r} is not available on this worker.", "engine_unavailable")
        return "failed"
    with JobContext(job, lease_token) as ctx:
        try:
            services.job_inputs_check(job=job)  # deleted or given away since the job was created
            services.asset_outputs_discard(job=job)  # a rerun starts from a clean slate
            result = engine.run(ctx)
            ctx.checkpoint()
            services.job_finish(job_id=job.pk, lease_token=lease_token, result=result)
            return "completed"
        except (services.JobAborted, Job.DoesNotExist) as exc:
            # Cancelled, taken over, or deleted with its owner's account while it ran.
            logger.info("job %s stopped: %s", job_id, exc)
            return "aborted"
        except EngineError as exc:
            _fail(job.pk, lease_token, str(exc), exc.error_type)
            return "failed"
        except (S3ConnectionError, S3HTTPClientError) as exc:
            # The media store (S3) could not be reached: the run's output could not be read or kept.
            logger.warning("job %s: the file store is unavailable (%s)", job_id, type(exc).__name__)
            _fail(job.pk, lease_token, "The file store could not be reached, so the output was not saved. "
                  "Your credits were returned; try again.", "storage_unavailable")
            return "failed"
        except Exception as exc:
            if not Job.objects.filter(pk=job.pk).exists():
                # The row went (its owner's account was deleted) under a write: not a crash.
                logger.info("job %s stopped: deleted (%s)", job_id, type(exc).__name__)
                return "aborted"
            logger.exception("job %s crashed", job_id)
            _fail(job.pk, lease_token, f"Internal error: {type(exc).__name__}", "internal")
            return "failed"


def _fail(job_id, lease_token, error: str, error_type: str) -> None:
    try:
        services.job_transition(job_id=job_id, to=Job.Status.FAILED, error=error, error_type=error_type, lease_token=lease_token)
    except (services.JobAborted, Conflict):
        pass  # cancelled or taken over meanwhile: whoever ended it settled the credits


def jobs_reap() -> dict:
    """Scheduled every minute (see migration 0002): retry or fail jobs whose worker died."""
    return services.job_reap_expired()
