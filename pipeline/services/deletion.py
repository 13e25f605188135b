"""What deleting an account removes from the pipeline (registered in `PipelineConfig.ready`)."""

from mozukai_hub.api.errors import Conflict

from ..models import Job
from ..transitions import TERMINAL
from .jobs import job_cancel


def jobs_cancel_for_user(*, user) -> int:
    """The user's unfinished jobs are cancelled, so their held credits are released before the
    credit account closes. Returns how many were cancelled."""
    cancelled = 0
    for job in Job.objects.filter(owner=user).exclude(status__in=TERMINAL).order_by("pk"):
        try:
            job_cancel(job=job)
        except Conflict:  # it finished meanwhile: its credits are settled or released already
            continue
        cancelled += 1
    return cancelled
