from uuid import UUID

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404

from .models import Chat, ChatEvent, ChatRun, Message, Session


def session_list(*, user) -> QuerySet[Session]:
    return Session.objects.filter(owner=user).order_by("-created_at")


def session_get_for_user(*, user, session_id: UUID) -> Session:
    """Another user's session is indistinguishable from a missing one."""
    return get_object_or_404(Session, id=session_id, owner=user)


def chat_list(*, user, session_id: UUID | None = None) -> QuerySet[Chat]:
    """The user's chats (of one session when given; another user's session lists nothing)."""
    chats = Chat.objects.filter(session__owner=user)
    if session_id is not None:
        chats = chats.filter(session_id=session_id)
    return chats.order_by("-created_at")


def chat_get_for_user(*, user, chat_id: UUID) -> Chat:
    """Another user's chat is indistinguishable from a missing one."""
    return get_object_or_404(Chat.objects.select_related("session"), id=chat_id, session__owner=user)


def message_list(*, user, chat_id: UUID | None = None) -> QuerySet[Message]:
    """Oldest first (by the chat's sequence)."""
    messages = Message.objects.filter(chat__session__owner=user)
    if chat_id is not None:
        messages = messages.filter(chat_id=chat_id)
    return messages.order_by("created_at", "seq") if chat_id is None else messages.order_by("seq")


def message_get_for_user(*, user, message_id: UUID) -> Message:
    return get_object_or_404(Message, id=message_id, chat__session__owner=user)


def chat_history(*, chat: Chat, before_seq: int | None = None, limit: int = 40) -> list[dict]:
    """The chat's stored conversation as [{role, content}], oldest first (the last `limit`)."""
    messages = Message.objects.filter(chat=chat).exclude(content="")
    if before_seq is not None:
        messages = messages.filter(seq__lt=before_seq)
    rows = list(messages.order_by("-seq").values_list("role", "content")[:limit])
    return [{"role": role, "content": content} for role, content in reversed(rows)]


def chat_latest_requirements(*, chat: Chat) -> dict | None:
    """The requirements of the chat's latest answer that carries some (for generate_scad)."""
    for parts in Message.objects.filter(chat=chat, role=Message.Role.ASSISTANT).order_by("-seq").values_list("parts", flat=True)[:50]:
        if isinstance(parts, dict) and isinstance(parts.get("requirements"), dict):
            return parts["requirements"]
    return None


def chat_events_after(*, chat: Chat, after: int, limit: int = 500) -> list[ChatEvent]:
    return list(ChatEvent.objects.filter(chat=chat, seq__gt=after).order_by("seq")[:limit])


def chat_run_get_for_user(*, user, chat_id: UUID, run_id: UUID) -> ChatRun:
    return get_object_or_404(ChatRun.objects.select_related("chat"), id=run_id, chat_id=chat_id, chat__session__owner=user)


def chat_runs_unfinished(*, chat: Chat) -> QuerySet[ChatRun]:
    return ChatRun.objects.filter(chat=chat).exclude(status__in=ChatRun.TERMINAL).order_by("created_at")
