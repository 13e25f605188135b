"""Photo generator reads: a photo job for its owner or for the holder of its visitor token."""

from uuid import UUID

from django.http import Http404

from pipeline.models import Asset, Job
from pipeline.selectors import job_get_for_caller


def photo_job_get_for_caller(*, user, job_id: UUID, visitor_token: str = "") -> Job:
    """A signed-in owner's photo job, or an anonymous visitor's for the holder of its token;
    anyone else (and any other kind of job) gets a 404, as for a missing one."""
    job = job_get_for_caller(user=user, job_id=job_id, visitor_token=visitor_token)
    if job.kind != Job.Kind.PHOTO_STYLE:
        raise Http404("No such photo job.")
    return job


def photo_job_output(*, job: Job) -> Asset | None:
    """The styled photo (the job's primary output), once there is one."""
    assets = getattr(job, "asset_list", None)
    if assets is None:
        assets = list(job.assets.all())
    return next((a for a in assets if a.role == Asset.Role.OUTPUT and a.is_primary and a.file), None)


def photo_job_input(*, job: Job) -> Asset | None:
    """The photo the job was made from."""
    assets = getattr(job, "asset_list", None)
    if assets is None:
        assets = list(job.assets.all())
    return next((a for a in assets if a.role == Asset.Role.PHOTO and a.file), None)
