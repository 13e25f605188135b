"""Reads with ownership: another user's object is indistinguishable from a missing one.

An anonymous visitor's job (owner empty) is read only with its token (`job_get_for_visitor`);
its files likewise. It never appears in a user's lists.
"""

from uuid import UUID

from django.db.models import Prefetch, QuerySet
from django.http import Http404
from django.shortcuts import get_object_or_404

from .models import Asset, AssetMeta, Job, JobEvent
from .owners import JobOwner, visitor_token_matches

OUTPUTS = Prefetch("assets", queryset=Asset.objects.order_by("-is_primary", "asset_type"), to_attr="asset_list")


def job_list(*, user, session_id: UUID | None = None, status: str | None = None, kind: str | None = None) -> QuerySet[Job]:
    jobs = Job.objects.filter(owner=user).prefetch_related(OUTPUTS).order_by("-created_at")
    if session_id:
        jobs = jobs.filter(session_id=session_id)
    if status:
        jobs = jobs.filter(status=status)
    if kind:
        jobs = jobs.filter(kind=kind)
    return jobs


def job_session_get_for_user(*, user, session_id: UUID):
    """The design session a new job joins (chat.Session, reached through the FK: pipeline does
    not import chat, which depends on pipeline)."""
    session_model = Job._meta.get_field("session").related_model
    return get_object_or_404(session_model, id=session_id, owner=user)


def job_get_for_user(*, user, job_id: UUID) -> Job:
    return get_object_or_404(Job.objects.prefetch_related(OUTPUTS), id=job_id, owner=user)


def job_get_for_visitor(*, job_id: UUID, token: str) -> Job:
    """The anonymous visitor's job, for the holder of its token; anything else is a 404."""
    job = Job.objects.prefetch_related(OUTPUTS).filter(id=job_id, owner__isnull=True).first()
    if job is None or not visitor_token_matches(token, job.visitor_token_hash):
        raise Http404("No such job.")
    return job


def _is_user(user) -> bool:
    return user is not None and getattr(user, "is_authenticated", False)


def job_get_for_caller(*, user, job_id: UUID, visitor_token: str = "") -> Job:
    """The job a caller may read: a signed-in user's own job, else the anonymous visitor's job
    whose token the caller holds. The token grants read access whoever presents it (signed in
    or not), like a signed link; without it, or with another one, the job is a 404."""
    if _is_user(user):
        job = Job.objects.prefetch_related(OUTPUTS).filter(id=job_id, owner=user).first()
        if job is not None:
            return job
    return job_get_for_visitor(job_id=job_id, token=visitor_token)


def job_events_after(*, job: Job, after: int = 0, limit: int = 500) -> list[JobEvent]:
    return list(JobEvent.objects.filter(job=job, seq__gt=after).order_by("seq")[:limit])


def job_primary_asset(*, job: Job) -> Asset | None:
    assets = getattr(job, "asset_list", None)
    if assets is None:
        assets = list(job.assets.order_by("-is_primary", "-created_at"))
    stored = [a for a in assets if a.file]
    return next((a for a in stored if a.is_primary), stored[0] if stored else None)


def asset_list(*, user, job_id: UUID | None = None) -> QuerySet[Asset]:
    assets = Asset.objects.filter(owner=user).order_by("-created_at")
    if job_id:
        assets = assets.filter(job_id=job_id)
    return assets


def asset_get_for_user(*, user, asset_id: UUID) -> Asset:
    return get_object_or_404(Asset, id=asset_id, owner=user)


def asset_list_for_visitor(*, job_id: UUID, token: str) -> QuerySet[Asset]:
    """The files of an anonymous visitor's job (outputs and what was uploaded with it)."""
    job = job_get_for_visitor(job_id=job_id, token=token)
    return Asset.objects.filter(job=job, owner__isnull=True).order_by("-is_primary", "-created_at")


def asset_get_for_visitor(*, asset_id: UUID, job_id: UUID, token: str) -> Asset:
    return get_object_or_404(asset_list_for_visitor(job_id=job_id, token=token), id=asset_id)


def asset_list_for_caller(*, user, job_id: UUID | None = None, visitor_token: str = "") -> QuerySet[Asset]:
    """A signed-in user's assets (optionally of one job); with a visitor token, the files of that
    visitor's job (`job_id` names it). Another visitor's job, or a wrong token, is a 404."""
    if visitor_token and job_id and not (_is_user(user) and Job.objects.filter(id=job_id, owner=user).exists()):
        return asset_list_for_visitor(job_id=job_id, token=visitor_token)
    if not _is_user(user):
        raise Http404("No such job.")
    return asset_list(user=user, job_id=job_id)


def asset_get_for_caller(*, user, asset_id: UUID, visitor_token: str = "") -> Asset:
    """A signed-in user's own asset, else a file of the visitor's job whose token the caller holds."""
    if _is_user(user):
        asset = Asset.objects.filter(id=asset_id, owner=user).first()
        if asset is not None:
            return asset
    job_id = Asset.objects.filter(id=asset_id, owner__isnull=True).values_list("job_id", flat=True).first()
    if job_id is None:
        raise Http404("No such asset.")
    return asset_get_for_visitor(asset_id=asset_id, job_id=job_id, token=visitor_token)


def assets_for_owner(*, owner: JobOwner, asset_ids: list[UUID]) -> QuerySet[Asset]:
    """The access gate for a new job's inputs: a user's own assets. A visitor owns no asset
    before its job exists (its files belong to its job), so it can name none."""
    if owner.is_visitor:
        return Asset.objects.none()
    return Asset.objects.filter(id__in=asset_ids, owner=owner.user)


def asset_may_be_read_by_job(*, asset: Asset, job: Job) -> bool:
    """The same gate when the run starts: still the job owner's (a visitor's: still its job's)."""
    if job.owner_id is not None:
        return asset.owner_id == job.owner_id
    return asset.owner_id is None and asset.job_id == job.pk


def asset_meta_list(*, user, asset_id: UUID | None = None) -> QuerySet[AssetMeta]:
    metas = AssetMeta.objects.filter(asset__owner=user).order_by("created_at")
    if asset_id:
        metas = metas.filter(asset_id=asset_id)
    return metas


def asset_meta_get_for_user(*, user, meta_id: UUID) -> AssetMeta:
    return get_object_or_404(AssetMeta, id=meta_id, asset__owner=user)
