from uuid import UUID

from django.db.models import CharField, F, Prefetch, QuerySet, Window
from django.db.models.fields.json import KT
from django.db.models.functions import Cast, RowNumber
from django.shortcuts import get_object_or_404

from pipeline.models import Job

from .models import Project, ProjectInput

PROJECT_LATEST_JOBS = 5
INPUTS = Prefetch("inputs", queryset=ProjectInput.objects.select_related("asset").order_by("created_at", "id"))


def project_list(*, user, kind: str | None = None) -> QuerySet[Project]:
    projects = Project.objects.filter(owner=user).prefetch_related(INPUTS).order_by("-updated_at", "-id")
    if kind:
        projects = projects.filter(kind=kind)
    return projects


def project_get_for_user(*, user, project_id: UUID) -> Project:
    """Another user's project is indistinguishable from a missing one."""
    return get_object_or_404(Project.objects.prefetch_related(INPUTS), id=project_id, owner=user)


def project_jobs(*, project: Project) -> QuerySet[Job]:
    """The jobs made from a project (their params snapshot names it), newest first."""
    return Job.objects.filter(owner_id=project.owner_id, params__project_id=str(project.pk)).order_by("-created_at")


def project_jobs_latest(*, projects: list[Project], per_project: int = PROJECT_LATEST_JOBS) -> dict[UUID, list[Job]]:
    """The latest `per_project` jobs of each project, in one query: {project id: [jobs, newest first]}."""
    if not projects:
        return {}
    owners = {p.owner_id for p in projects}
    ids = [str(p.pk) for p in projects]
    # Cast: `__in` on a JSON key compares JSON values, and on SQLite it would parse each id as
    # JSON ("malformed JSON"); as text it is a plain IN on both databases.
    jobs = (
        Job.objects.filter(owner_id__in=owners).annotate(project_ref=Cast(KT("params__project_id"), CharField()))
        .filter(project_ref__in=ids)
        .annotate(rank=Window(RowNumber(), partition_by=[F("project_ref")], order_by=F("created_at").desc()))
        .filter(rank__lte=per_project).order_by("project_ref", "rank")
    )
    latest: dict[UUID, list[Job]] = {p.pk: [] for p in projects}
    by_ref = {str(p.pk): p.pk for p in projects}
    for job in jobs:
        latest[by_ref[job.project_ref]].append(job)
    return latest


def project_latest_inputs(*, project: Project) -> dict[str, str | None]:
    """The newest input asset id of each thumbnail role (what a job's params snapshot names)."""
    inputs: dict[str, str | None] = {"selfie": None, "ref": None, "copy_target": None}
    for project_input in ProjectInput.objects.filter(project=project).select_related("asset").order_by("created_at", "id"):
        if project_input.asset.role in inputs:
            inputs[project_input.asset.role] = str(project_input.asset_id)
    return inputs
