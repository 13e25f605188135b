"""Design sessions, chats, messages and the chat's sequenced event stream.

Every event of a chat (a message created, a streamed delta, a message completed, an assistant
run queued, progressing, completed or failed) takes the chat's next sequence number under the
chat's row lock and is stored (`ChatEvent`); sockets are woken after commit
(`mozukai_hub.streams.stream_publish`) and replay from the table, so a client that reconnects
with `?after=N` gets everything after N, nothing twice. A message takes the number of its
`message.created` event. The assistant's runs are in `chat.runs`.
"""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F, Value
from django.db.models.functions import Concat

from accounts.models import User
from mozukai_hub.streams import stream_publish

from .models import Chat, ChatEvent, Message, Session

SESSION_FIELDS = ("name", "status", "metadata_json")
CHAT_FIELDS = ("title",)
DEFAULT_SESSION_NAME = "Chats"
DEFAULT_SESSION_MARK = "default_chat_session"


# --- Sessions ------------------------------------------------------------------------------


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


@transaction.atomic
def session_default_for(*, user) -> Session:
    """The user's default session (seed 000's chats have none of their own), made once."""
    User.objects.select_for_update().filter(pk=user.pk).first()  # two first chats make one session
    found = Session.objects.filter(owner=user, **{f"metadata_json__{DEFAULT_SESSION_MARK}": True}).order_by("created_at").first()
    return found or session_create(user=user, name=DEFAULT_SESSION_NAME, metadata_json={DEFAULT_SESSION_MARK: True})


# --- The stream ----------------------------------------------------------------------------


def chat_group(chat_id) -> str:
    return f"chat.{chat_id}"


def _seq_next(chat_id) -> int:
    """The chat's next sequence number; takes the chat's row lock until the transaction ends."""
    Chat.objects.filter(pk=chat_id).update(last_seq=F("last_seq") + 1)
    return Chat.objects.filter(pk=chat_id).values_list("last_seq", flat=True).get()


def _event_store(*, chat_id, seq: int, type: str, data: dict) -> ChatEvent:
    event = ChatEvent.objects.create(chat_id=chat_id, seq=seq, type=type, data={"chat_id": str(chat_id), **data})
    stream_publish(chat_group(chat_id), seq)
    return event


def chat_event_append(*, chat_id, type: str, data: dict) -> ChatEvent:
    with transaction.atomic():
        return _event_store(chat_id=chat_id, seq=_seq_next(chat_id), type=type, data=data)


def message_event_data(message: Message) -> dict:
    return {
        "id": str(message.pk), "role": message.role, "content": message.content, "status": message.status,
        "seq": message.seq, "tokens": message.tokens, "parts": message.parts,
        "job_id": str(message.job_id) if message.job_id else None,
    }


# --- Chats ---------------------------------------------------------------------------------


def chat_create(*, session: Session, title: str = "") -> Chat:
    chat = Chat(session=session, title=title)
    chat.full_clean()
    chat.save()
    return chat


def chat_create_in_default_session(*, user, title: str = "") -> Chat:
    return chat_create(session=session_default_for(user=user), title=title)


@transaction.atomic
def chat_update(*, chat: Chat, data: dict) -> Chat:
    locked = Chat.objects.select_for_update().get(pk=chat.pk)
    fields = [name for name in CHAT_FIELDS if name in data]
    for name in fields:
        setattr(locked, name, data[name])
    locked.full_clean()
    locked.save(update_fields=[*fields, "updated_at"])
    return locked


def chat_delete(*, chat: Chat) -> None:
    """Its messages, events and runs go with it; a render job it started stays the user's job."""
    from .runs import chat_runs_stop

    chat_runs_stop(chat=chat)
    chat.delete()


# --- Messages ------------------------------------------------------------------------------


def message_content_check(content: str, *, field: str = "content") -> str:
    if not isinstance(content, str):
        raise ValidationError({field: ["A text is required."]})
    limit = settings.CHAT_MESSAGE_MAX_CHARS
    if len(content) > limit:
        raise ValidationError({field: [f"At most {limit} characters (got {len(content)})."]})
    return content


def message_create(*, chat: Chat, role: str, content: str, tokens: int = 0, status: str = Message.Status.COMPLETE,
                   parts: dict | None = None, job=None) -> Message:
    """Store a message with the chat's next sequence number and announce it (`message.created`)."""
    if role not in Message.Role.values:
        raise ValidationError({"role": [f"Unknown role {role!r}; one of: {', '.join(Message.Role.values)}."]})
    message_content_check(content)
    if tokens < 0:
        raise ValidationError({"tokens": ["Must be 0 or more."]})
    with transaction.atomic():
        seq = _seq_next(chat.pk)
        message = Message.objects.create(chat_id=chat.pk, seq=seq, role=role, content=content, tokens=tokens,
                                         status=status, parts=parts or {}, job=job)
        _event_store(chat_id=chat.pk, seq=seq, type="message.created",
                     data={"message_id": str(message.pk), "message": message_event_data(message)})
    return message


def message_delete(*, message: Message) -> None:
    with transaction.atomic():
        chat_id = message.chat_id
        message.delete()
        chat_event_append(chat_id=chat_id, type="message.deleted", data={"message_id": str(message.pk)})


def message_delta_append(*, message_id, chat_id, delta: str) -> bool:
    """Append streamed text to a message still streaming (`message.delta`); False when it is not
    streaming any more (stopped): nothing is written then."""
    with transaction.atomic():
        seq = _seq_next(chat_id)
        updated = Message.objects.filter(pk=message_id, status=Message.Status.STREAMING).update(
            content=Concat(F("content"), Value(delta)))
        if not updated:
            transaction.set_rollback(True)  # the sequence number is given back
            return False
        _event_store(chat_id=chat_id, seq=seq, type="message.delta", data={"message_id": str(message_id), "delta": delta})
    return True


def message_finish(*, message_id, chat_id, status: str, content: str | None = None, parts: dict | None = None,
                   tokens: int | None = None, job=None) -> Message | None:
    """End a streaming message (complete, failed or cancelled) and announce it (`message.completed`);
    None when it had already ended (nothing changes)."""
    with transaction.atomic():
        seq = _seq_next(chat_id)
        message = Message.objects.select_for_update().filter(pk=message_id, status=Message.Status.STREAMING).first()
        if message is None:
            transaction.set_rollback(True)
            return None
        fields = ["status", "updated_at"]
        message.status = status
        if content is not None:
            message.content = content[: settings.CHAT_MESSAGE_MAX_CHARS]
            fields.append("content")
        if parts is not None:
            message.parts = parts
            fields.append("parts")
        if tokens is not None:
            message.tokens = tokens
            fields.append("tokens")
        if job is not None:
            message.job = job
            fields.append("job")
        message.save(update_fields=fields)
        _event_store(chat_id=chat_id, seq=seq, type="message.completed",
                     data={"message_id": str(message.pk), "message": message_event_data(message)})
    return message


def message_parts_update(*, message_id, chat_id, parts: dict, job=None) -> None:
    """Merge parts into a message (the SCAD and its job while the model renders) and announce it."""
    with transaction.atomic():
        message = Message.objects.select_for_update().get(pk=message_id)
        message.parts = {**message.parts, **parts}
        fields = ["parts", "updated_at"]
        if job is not None:
            message.job = job
            fields.append("job")
        message.save(update_fields=fields)
        chat_event_append(chat_id=chat_id, type="message.updated",
                          data={"message_id": str(message.pk), "message": message_event_data(message)})
