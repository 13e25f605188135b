from uuid import UUID

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404

from .models import Project


def project_list(*, user, kind: str | None = None) -> QuerySet[Project]:
    projects = Project.objects.filter(owner=user).order_by("-updated_at", "-id")
    if kind:
        projects = projects.filter(kind=kind)
    return projects


def project_get_for_user(*, user, project_id: UUID) -> Project:
    """Another user's project is indistinguishable from a missing one."""
    return get_object_or_404(Project, id=project_id, owner=user)
