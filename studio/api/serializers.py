from rest_framework import serializers

from mozukai_hub.api.serializers import StrictSerializer

from .. import presets
from ..models import FILM_NOT_YET, Project


class ProjectSerializer(serializers.ModelSerializer):
    user_id = serializers.UUIDField(source="owner_id", read_only=True)

    class Meta:
        model = Project
        fields = ["id", "user_id", "kind", "title", "mode", "platform", "width", "height", "headline", "subtext",
                  "vibe", "model_pref", "created_at", "updated_at"]


class ProjectCreateSerializer(StrictSerializer):
    """Seed 000's body. `width`/`height` may be left out (the platform's size) or given one
    side (the other follows the platform's aspect); `title` defaults to the headline."""

    kind = serializers.ChoiceField(choices=Project.Kind.choices, required=False)
    title = serializers.CharField(max_length=200, required=False)
    mode = serializers.ChoiceField(choices=Project.Mode.choices, required=False)
    platform = serializers.ChoiceField(choices=Project.PLATFORM_CHOICES)
    width = serializers.IntegerField(min_value=presets.MIN_SIDE, max_value=presets.MAX_SIDE, required=False)
    height = serializers.IntegerField(min_value=presets.MIN_SIDE, max_value=presets.MAX_SIDE, required=False)
    headline = serializers.CharField(max_length=120)
    subtext = serializers.CharField(max_length=200, required=False, allow_blank=True)
    vibe = serializers.ChoiceField(choices=Project.VIBE_CHOICES, required=False)
    model_pref = serializers.ChoiceField(choices=Project.ModelPref.choices, required=False)

    def to_internal_value(self, data):
        # Said before anything else about the body: the fields of a film project do not exist yet.
        if isinstance(data, dict) and data.get("kind") == Project.Kind.FILM:
            raise serializers.ValidationError({"kind": [FILM_NOT_YET]})
        return super().to_internal_value(data)


class ProjectUpdateSerializer(ProjectCreateSerializer):
    """PATCH: any subset of the create fields."""

    platform = serializers.ChoiceField(choices=Project.PLATFORM_CHOICES, required=False)
    headline = serializers.CharField(max_length=120, required=False)


class ProjectListQuerySerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=Project.Kind.choices, required=False)


class ZoneSerializer(serializers.Serializer):
    name = serializers.CharField()
    x = serializers.FloatField()
    y = serializers.FloatField()
    width = serializers.FloatField()
    height = serializers.FloatField()


class PlatformSerializer(serializers.Serializer):
    key = serializers.CharField()
    name = serializers.CharField()
    width = serializers.IntegerField(help_text="Default size, px")
    height = serializers.IntegerField(help_text="Default size, px")
    aspect = serializers.CharField()
    min_width = serializers.IntegerField()
    min_height = serializers.IntegerField()
    max_bytes = serializers.IntegerField(allow_null=True, help_text="The platform's file-size limit, when it has one")
    margin = serializers.FloatField(help_text="Text stays this fraction of the frame inside every edge")
    keep_out = ZoneSerializer(many=True, help_text="Covered by the platform's interface: no text here (fractions of the frame)")


class VibeSerializer(serializers.Serializer):
    key = serializers.CharField()
    name = serializers.CharField()
    palette = serializers.DictField(child=serializers.CharField(), help_text="background, surface, text, accent, outline (hex)")
    headline_font = serializers.CharField()
    subtext_font = serializers.CharField()
    headline_case = serializers.ChoiceField(choices=["upper", "title"])
    outline = serializers.BooleanField()
    shadow = serializers.BooleanField()
    prompt = serializers.CharField()
    accents = serializers.ListField(child=serializers.CharField())


class LimitsSerializer(serializers.Serializer):
    min_side = serializers.IntegerField()
    max_side = serializers.IntegerField()
    aspect_tolerance = serializers.FloatField()


class PresetsSerializer(serializers.Serializer):
    platforms = PlatformSerializer(many=True)
    vibes = VibeSerializer(many=True)
    limits = LimitsSerializer()
