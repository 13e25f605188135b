"""The chat socket: `ws /api/v1/chat-socket/<chat_id>?token=…&after=N` (seed 001).

Sends the chat's events with `seq > after`, in order, then new ones as they happen (replay,
push or poll, ping/pong and close codes from `mozukai_hub.streams.SequencedStreamConsumer`):
`message.created`, `message.delta`, `message.completed`, `runpod.queued`, `runpod.progress`,
`runpod.completed`, `runpod.failed` (also for a stopped run, with `status: "cancelled"`),
`message.updated`, `message.deleted`. Signed-in users only: an anonymous or visitor socket,
and another user's chat, close with 4404.

The client may send:
- `{"type": "runpod.request", "payload": {action, content?, history?, requirements_json?, metadata_json?}}`
  — the same as `POST /chats/{id}/runpod` (its answer arrives as events);
- `{"type": "runpod.cancel", "payload": {"runpod_id"?}}` — stop one run, or every unfinished one;
- `{"type": "message", "payload": {"content", "role"?}}` — store a message like `POST /messages`;
- `{"type": "ping"}`.
Anything else (not JSON, too large, unknown type, bad fields) is answered with
`{"type": "error", "code", "message", "fields"?}` and nothing is stored.
"""

import json

from channels.db import database_sync_to_async
from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework.exceptions import ValidationError

from mozukai_hub.api.errors import ApplicationError
from mozukai_hub.client_ip import client_ip_for_scope
from mozukai_hub.streams import SequencedStreamConsumer

from . import runs, selectors, services
from .api.serializers import RunCancelSerializer, RunRequestSerializer
from .models import ChatRun

# A frame larger than this is refused before it is parsed (a message's content is limited too).
MAX_FRAME_BYTES = 256 * 1024


def _fields(detail) -> dict:
    if isinstance(detail, dict):
        return {str(k): [str(x) for x in (v if isinstance(v, list) else [v])] for k, v in detail.items()}
    return {"non_field_errors": [str(x) for x in (detail if isinstance(detail, list) else [detail])]}


class ChatConsumer(SequencedStreamConsumer):
    def stream_get(self, *, user, visitor_token: str, chat_id):
        if user is None or not user.is_authenticated:
            return None
        return selectors.chat_get_for_user(user=user, chat_id=chat_id)

    def stream_group(self, chat) -> str:
        return services.chat_group(chat.pk)

    def messages_after(self, chat, after: int) -> list[dict]:
        return [event.as_message() for event in selectors.chat_events_after(chat=chat, after=after)]

    async def stream_event(self, message):
        """A push carries its committed events (`chat.services`): when they follow what this socket
        sent, they are sent as they are, without reading the table; otherwise (a gap, a push
        without events) the socket reads everything after its cursor from the table."""
        events = message.get("events")
        if events:
            async with self.lock:
                fresh = [event for event in events if event["seq"] > self.cursor]
                if not fresh:
                    return
                if fresh[0]["seq"] == self.cursor + 1:
                    for event in fresh:
                        await self.send_json(event)
                        self.cursor = event["seq"]
                    return
        await super().stream_event(message)

    async def error(self, code: str, message: str, fields: dict | None = None):
        body = {"type": "error", "code": code, "message": message}
        if fields:
            body["fields"] = fields
        await self.send_json(body)

    async def receive(self, text_data=None, bytes_data=None, **kwargs):
        if self.stream is None:
            return
        raw = text_data if text_data is not None else (bytes_data or b"")
        size = len(raw.encode() if isinstance(raw, str) else raw)
        if size > MAX_FRAME_BYTES:
            await self.error("too_large", f"A socket message is at most {MAX_FRAME_BYTES} bytes (got {size}).")
            return
        try:
            content = json.loads(raw)
        except (ValueError, UnicodeDecodeError):
            await self.error("invalid_json", "Send JSON, e.g. {\"type\": \"runpod.request\", \"payload\": {…}}.")
            return
        await self.receive_json(content)

    async def receive_json(self, content, **kwargs):
        if not isinstance(content, dict):
            await self.error("invalid_message", "A socket message is a JSON object with a `type`.")
            return
        kind = content.get("type")
        if kind == "ping":
            await super().receive_json(content)
            return
        handler = {"runpod.request": self._run_request, "runpod.cancel": self._run_cancel, "message": self._message,
                   "message.create": self._message}.get(kind)
        if handler is None:
            await self.error("unknown_type", f"Unknown message type {kind!r}; one of: runpod.request, runpod.cancel, "
                                             "message, ping.")
            return
        payload = content.get("payload", {})
        if payload is None:
            payload = {}
        if not isinstance(payload, dict):
            await self.error("validation_error", "`payload` must be a JSON object.", {"payload": ["Expected a JSON object."]})
            return
        try:
            # Not the consumer's shared sync thread: 50 sockets asking at once are not served one by one.
            await database_sync_to_async(handler, thread_sensitive=False)(payload)
        except ValidationError as exc:
            await self.error("validation_error", "Invalid input.", _fields(exc.detail))
        except DjangoValidationError as exc:
            fields = exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
            await self.error("validation_error", "Invalid input.", fields)
        except ApplicationError as exc:
            await self.error(exc.code, exc.message)

    def _run_request(self, payload: dict) -> None:
        data = RunRequestSerializer(data=payload)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        values.pop("sync", None)  # the socket always answers with events
        runs.chat_run_request(chat=self.stream, client_ip=client_ip_for_scope(self.scope), **values)

    def _run_cancel(self, payload: dict) -> None:
        data = RunCancelSerializer(data=payload)
        data.is_valid(raise_exception=True)
        run_id = data.validated_data.get("runpod_id")
        if run_id is None:
            runs.chat_runs_stop(chat=self.stream)
            return
        run = ChatRun.objects.filter(pk=run_id, chat=self.stream).first()
        if run is None:
            raise ApplicationError("No such run in this chat.", code="not_found", status_code=404)
        runs.chat_run_cancel(run=run)

    def _message(self, payload: dict) -> None:
        unknown = sorted(set(payload) - {"content", "role", "tokens"})
        if unknown:
            raise DjangoValidationError({name: ["Unknown field."] for name in unknown})
        if "content" not in payload:
            raise DjangoValidationError({"content": ["This field is required."]})
        tokens = payload.get("tokens", 0)
        if isinstance(tokens, bool) or not isinstance(tokens, int) or not 0 <= tokens <= 10_000_000:
            raise DjangoValidationError({"tokens": ["A whole number from 0 to 10000000."]})
        services.message_create(chat=self.stream, role=str(payload.get("role") or "user"), content=payload["content"],
                                tokens=tokens)
