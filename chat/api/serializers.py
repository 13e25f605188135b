from django.conf import settings
from django.urls import reverse
from rest_framework import serializers

from mozukai_hub.api.serializers import StrictSerializer
from pipeline.storage import download_url

from ..models import Chat, ChatRun, Message, Session


class SessionSerializer(serializers.ModelSerializer):
    user_id = serializers.UUIDField(source="owner_id", read_only=True)

    class Meta:
        model = Session
        fields = ["id", "user_id", "name", "status", "metadata_json", "created_at", "updated_at"]


class SessionCreateSerializer(StrictSerializer):
    name = serializers.CharField(max_length=200)
    status = serializers.ChoiceField(choices=Session.Status.choices, default=Session.Status.ACTIVE)
    metadata_json = serializers.JSONField(required=False, default=dict)

    def validate_metadata_json(self, value):
        if not isinstance(value, dict):
            raise serializers.ValidationError("Expected a JSON object.")
        return value


class SessionUpdateSerializer(SessionCreateSerializer):
    name = serializers.CharField(max_length=200, required=False)
    status = serializers.ChoiceField(choices=Session.Status.choices, required=False)
    metadata_json = serializers.JSONField(required=False)


def chat_page_url(chat_id) -> str:
    """This site's `/c/{chat_id}` page (seed 000's `url`), absolute from SITE_URL."""
    return f"{settings.SITE_URL.rstrip('/')}{reverse('chat-page', kwargs={'chat_id': chat_id})}"


class ChatSerializer(serializers.ModelSerializer):
    chat_id = serializers.UUIDField(source="id", read_only=True)
    session_id = serializers.UUIDField(read_only=True)
    url = serializers.SerializerMethodField()

    class Meta:
        model = Chat
        fields = ["id", "chat_id", "session_id", "title", "url", "last_seq", "created_at", "updated_at"]

    def get_url(self, chat) -> str:
        return chat_page_url(chat.pk)


class ChatCreateSerializer(StrictSerializer):
    session_id = serializers.UUIDField()
    title = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")


class ChatUpdateSerializer(StrictSerializer):
    title = serializers.CharField(max_length=200, allow_blank=True)


class ChatNewSerializer(StrictSerializer):
    session_name = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")


class MessageSerializer(serializers.ModelSerializer):
    """A message with its parts; `assets` are the render's files with fresh download links."""

    chat_id = serializers.UUIDField(read_only=True)
    job_id = serializers.UUIDField(read_only=True)
    sender = serializers.CharField(source="role", read_only=True)
    assets = serializers.SerializerMethodField()

    class Meta:
        model = Message
        fields = ["id", "chat_id", "seq", "role", "sender", "content", "tokens", "status", "parts", "job_id", "assets",
                  "created_at", "updated_at"]

    def get_assets(self, message) -> list[dict]:
        links = []
        known = self.context.get("assets") or {}
        request = self.context.get("request")
        for item in (message.parts or {}).get("assets") or []:
            asset = known.get(str(item.get("id")))
            if asset is None:
                continue  # deleted since
            url, expires_at = download_url(asset=asset, request=request)
            links.append({"id": str(asset.pk), "asset_type": asset.asset_type, "size": asset.size, "url": url,
                          "expires_at": expires_at})
        return links


def message_assets(messages) -> dict:
    """The assets the messages' parts name, in one query (for MessageSerializer's context)."""
    from pipeline.models import Asset

    ids = {str(item.get("id")) for m in messages for item in ((m.parts or {}).get("assets") or []) if isinstance(item, dict)}
    ids.discard("None")
    if not ids:
        return {}
    # Only the outputs of the messages' own render jobs, whatever the parts say.
    owned = Asset.objects.filter(pk__in=ids, job__chat_messages__in=[m.pk for m in messages]).distinct()
    return {str(a.pk): a for a in owned}


class MessageCreateSerializer(StrictSerializer):
    chat_id = serializers.UUIDField()
    role = serializers.CharField(max_length=32)
    content = serializers.CharField(allow_blank=True, trim_whitespace=False)
    tokens = serializers.IntegerField(required=False, default=0, min_value=0, max_value=10_000_000)


class ChatMessageCreateSerializer(StrictSerializer):
    """Seed 000: `sender` is its name for `role`."""

    content = serializers.CharField(allow_blank=True, trim_whitespace=False)
    sender = serializers.CharField(max_length=32, required=False, default="user")
    tokens = serializers.IntegerField(required=False, default=0, min_value=0, max_value=10_000_000)


class HistoryItemSerializer(StrictSerializer):
    role = serializers.CharField(max_length=32)
    content = serializers.CharField(allow_blank=True, trim_whitespace=False)


class RunRequestSerializer(StrictSerializer):
    action = serializers.CharField(max_length=64)
    content = serializers.CharField(required=False, allow_blank=True, trim_whitespace=False)
    history = serializers.ListField(child=serializers.JSONField(), required=False, allow_null=True)
    requirements_json = serializers.JSONField(required=False, allow_null=True)
    metadata_json = serializers.JSONField(required=False, allow_null=True)
    sync = serializers.BooleanField(required=False, default=False)


class RunCancelSerializer(StrictSerializer):
    runpod_id = serializers.UUIDField(required=False)


class RunSerializer(serializers.ModelSerializer):
    runpod_id = serializers.UUIDField(source="id", read_only=True)
    chat_id = serializers.UUIDField(read_only=True)
    message_id = serializers.UUIDField(read_only=True)
    prompt_message_id = serializers.UUIDField(read_only=True)
    job_id = serializers.UUIDField(read_only=True)
    message = serializers.SerializerMethodField()

    class Meta:
        model = ChatRun
        fields = ["id", "runpod_id", "chat_id", "action", "backend", "status", "message_id", "prompt_message_id", "message",
                  "job_id", "remote_id", "output", "error", "error_type", "timeout_seconds", "created_at", "started_at",
                  "finished_at"]

    def get_message(self, run) -> dict | None:
        message = run.message if run.message_id else None
        return {"id": str(message.pk), "role": message.role, "content": message.content} if message else None
