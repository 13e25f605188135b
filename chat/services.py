"""Design sessions, chats, messages and the chat's sequenced event stream.

Every event of a chat (a message created, a streamed delta, a message completed, an assistant
run queued, progressing, completed or failed) takes the chat's next sequence number under the
chat's row lock and is stored (`ChatEvent`); sockets are woken after commit, by one
channel-layer push per write (one or several events) that carries the new events themselves
(a socket that has everything before them sends them without reading the table), and replay
from the table otherwise, so a client that reconnects with `?after=N` gets everything after N,
nothing twice. A message takes the number of its `message.created` event. The assistant's runs
are in `chat.runs`.
"""

import asyncio
import json
import os
import threading

from channels.layers import get_channel_layer
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import F, Value
from django.db.models.functions import Concat

from accounts.models import User
from mozukai_hub.streams import PUSH_TYPE

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
    """Its chats' unfinished runs are stopped first (a RunPod run is cancelled, a render job too)."""
    from .runs import chat_runs_stop

    for chat in session.chats.all():
        chat_runs_stop(chat=chat)
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


def _seq_take(chat_id, count: int = 1) -> int:
    """Take the chat's next `count` sequence numbers in one statement and return the last; holds
    the chat's row lock until the transaction ends (Chat.DoesNotExist for a missing chat)."""
    with connection.cursor() as cursor:
        cursor.execute(f'UPDATE "{Chat._meta.db_table}" SET "last_seq" = "last_seq" + %s WHERE "id" = %s RETURNING "last_seq"',
                       [count, Chat._meta.pk.get_db_prep_value(chat_id, connection)])
        row = cursor.fetchone()
    if row is None:
        raise Chat.DoesNotExist(f"No chat {chat_id}.")
    return row[0]


def _seq_next(chat_id) -> int:
    """The chat's next sequence number; takes the chat's row lock until the transaction ends."""
    return _seq_take(chat_id, 1)


# A push carries its events when they are this small (JSON characters, all together); a larger
# batch is announced by its last number only and sockets read it from the table.
PUSH_EVENTS_MAX_CHARS = 64 * 1024


_push_loop = None
_push_loop_pid = None
_push_loop_lock = threading.Lock()


def _group_send(group: str, message: dict) -> None:
    """`group_send` from sync code on one long-lived event loop per process (its own thread).
    `async_to_sync` would start a new loop per call in a task worker (and channels_redis a new
    Redis connection per loop), and in daphne it waits for the server's own loop, which is busy
    with every socket: the thread that wrote the events would wait for it."""
    global _push_loop, _push_loop_pid
    layer = get_channel_layer()
    if layer is None:
        return  # no channel layer: sockets find new events by polling the table
    with _push_loop_lock:
        if _push_loop is None or _push_loop_pid != os.getpid():  # a forked worker makes its own
            _push_loop, _push_loop_pid = asyncio.new_event_loop(), os.getpid()
            threading.Thread(target=_push_loop.run_forever, name="chat-push", daemon=True).start()
    asyncio.run_coroutine_threadsafe(layer.group_send(group, message), _push_loop).result(timeout=10)


def _push(chat_id, events: list[dict]) -> None:
    message = {"type": PUSH_TYPE, "seq": events[-1]["seq"]}
    encoded = json.dumps(events, separators=(",", ":"))
    if len(encoded) <= PUSH_EVENTS_MAX_CHARS:
        message["events"] = json.loads(encoded)  # exactly what a replay from the table gives
    _group_send(chat_group(chat_id), message)


def _events_publish(chat_id, events: list[ChatEvent]) -> None:
    """Wake the chat's sockets once the transaction commits: one push for the events written."""
    messages = [event.as_message() for event in events]
    transaction.on_commit(lambda: _push(chat_id, messages), robust=True)


def _events_store(*, chat_id, first_seq: int, events: list[tuple[str, dict]]) -> list[ChatEvent]:
    """Insert events numbered from `first_seq` (taken with `_seq_take`) in one statement."""
    rows = ChatEvent.objects.bulk_create([
        ChatEvent(chat_id=chat_id, seq=first_seq + index, type=type, data={"chat_id": str(chat_id), **data})
        for index, (type, data) in enumerate(events)])
    _events_publish(chat_id, rows)
    return rows


def _event_store(*, chat_id, seq: int, type: str, data: dict) -> ChatEvent:
    return _events_store(chat_id=chat_id, first_seq=seq, events=[(type, data)])[0]


def chat_event_append(*, chat_id, type: str, data: dict) -> ChatEvent:
    with transaction.atomic():
        return _event_store(chat_id=chat_id, seq=_seq_next(chat_id), type=type, data=data)


def chat_events_append(*, chat_id, events: list[tuple[str, dict]]) -> list[ChatEvent]:
    """Append several events (type, data) at once: one numbering statement, one insert, one push."""
    with transaction.atomic(savepoint=False):
        last = _seq_take(chat_id, len(events))
        return _events_store(chat_id=chat_id, first_seq=last - len(events) + 1, events=events)


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
                   parts: dict | None = None, job=None, message_id=None,
                   events_after: list[tuple[str, dict]] = ()) -> Message:
    """Store a message with the chat's next sequence number and announce it (`message.created`);
    `events_after` (type, data) follow it in the stream, numbered and stored with it at once."""
    if role not in Message.Role.values:
        raise ValidationError({"role": [f"Unknown role {role!r}; one of: {', '.join(Message.Role.values)}."]})
    message_content_check(content)
    if tokens < 0:
        raise ValidationError({"tokens": ["Must be 0 or more."]})
    with transaction.atomic(savepoint=False):  # no savepoint inside a caller's transaction
        seq = _seq_take(chat.pk, 1 + len(events_after)) - len(events_after)
        message = Message(chat_id=chat.pk, seq=seq, role=role, content=content, tokens=tokens, status=status,
                          parts=parts or {}, job=job)
        if message_id is not None:
            message.pk = message_id
        message.save(force_insert=True)
        _events_store(chat_id=chat.pk, first_seq=seq, events=[
            ("message.created", {"message_id": str(message.pk), "message": message_event_data(message)}), *events_after])
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
