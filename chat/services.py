from django.db import transaction

from .models import Session

SESSION_FIELDS = ("name", "status", "metadata_json")


def session_create(*, user, name: str, status: str = Session.Status.ACTIVE, metadata_json: dict | None = None) -> Session:
    session = Session(owner=user, name=name, status=status, metadata_json=metadata_json or {})
    session.full_clean()
    session.save()
    return session


@transaction.atomic
def session_update(*, session: Session, data: dict) -> Session:
    """Apply a partial update (only the fields present in `data`)."""
    locked = Session.objects.select_for_update().get(pk=session.pk)
    fields = [name for name in SESSION_FIELDS if name in data]
    for name in fields:
        setattr(locked, name, data[name])
    locked.full_clean()
    locked.save(update_fields=[*fields, "updated_at"])
    return locked


def session_delete(*, session: Session) -> None:
    session.delete()
