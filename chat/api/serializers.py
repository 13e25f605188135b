from rest_framework import serializers

from mozukai_hub.api.serializers import StrictSerializer

from ..models import Session


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
