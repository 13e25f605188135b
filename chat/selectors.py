from uuid import UUID

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404

from .models import Session


def session_list(*, user) -> QuerySet[Session]:
    return Session.objects.filter(owner=user).order_by("-created_at")


def session_get_for_user(*, user, session_id: UUID) -> Session:
    """Another user's session is indistinguishable from a missing one."""
    return get_object_or_404(Session, id=session_id, owner=user)
