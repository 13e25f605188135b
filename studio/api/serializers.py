from rest_framework import serializers

from mozukai_hub.api.serializers import StrictSerializer

from pipeline import storage

from .. import presets
from ..film import voices
from ..models import FILM_ASPECTS, FILM_RESOLUTIONS, SUBTITLE_MODES, Project

THUMBNAIL_FIELDS = ["mode", "platform", "width", "height", "headline", "subtext", "model_pref"]
FILM_FIELDS = ["aspect_ratio", "resolution", "voice", "voice_speed", "voice_pitch", "subtitles", "scenes"]


class ProjectInputSerializer(serializers.Serializer):
    """One uploaded input: `url` is a signed, expiring download link."""

    id = serializers.UUIDField(source="asset.id")
    role = serializers.CharField(source="asset.role")
    asset_type = serializers.CharField(source="asset.asset_type")
    width = serializers.IntegerField(source="asset.width", allow_null=True)
    height = serializers.IntegerField(source="asset.height", allow_null=True)
    url = serializers.SerializerMethodField()
    created_at = serializers.DateTimeField()

    def get_url(self, project_input) -> str | None:
        if not project_input.asset.file:
            return None
        return storage.download_url(asset=project_input.asset, request=self.context.get("request"))[0]


class ProjectJobSerializer(serializers.Serializer):
    """A job of the project, in brief (GET /api/v1/jobs/{id} has the rest)."""

    id = serializers.UUIDField()
    status = serializers.CharField()
    stage = serializers.CharField()
    progress = serializers.IntegerField()
    engine = serializers.CharField()
    cost_credits = serializers.IntegerField(source="credit_cost")
    created_at = serializers.DateTimeField()
    finished_at = serializers.DateTimeField(allow_null=True)


class ProjectSerializer(serializers.ModelSerializer):
    """A project as the API shows it: the fields of its kind only, its uploaded inputs (newest
    last) and its latest jobs (newest first, at most `selectors.PROJECT_LATEST_JOBS`)."""

    user_id = serializers.UUIDField(source="owner_id", read_only=True)
    inputs = serializers.SerializerMethodField()
    jobs = serializers.SerializerMethodField(help_text="The latest jobs made from this project, newest first")

    class Meta:
        model = Project
        fields = ["id", "user_id", "kind", "title", *THUMBNAIL_FIELDS, "vibe", *FILM_FIELDS, "inputs", "jobs",
                  "created_at", "updated_at"]

    def get_inputs(self, project) -> list[dict]:
        return ProjectInputSerializer(project.inputs.all(), many=True, context=self.context).data

    def get_jobs(self, project) -> list[dict]:
        jobs = getattr(project, "latest_jobs", None)
        if jobs is None:
            from ..selectors import project_jobs_latest

            jobs = project_jobs_latest(projects=[project]).get(project.pk, [])
        return ProjectJobSerializer(jobs, many=True).data

    def to_representation(self, project):
        data = super().to_representation(project)
        for name in FILM_FIELDS if project.kind == Project.Kind.THUMBNAIL else THUMBNAIL_FIELDS:
            data.pop(name, None)
        return data


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



class ProjectUpdateSerializer(ProjectCreateSerializer):
    """PATCH: any subset of the create fields."""

    platform = serializers.ChoiceField(choices=Project.PLATFORM_CHOICES, required=False)
    headline = serializers.CharField(max_length=120, required=False)


class FilmProjectCreateSerializer(StrictSerializer):
    """Seed 003's film project. Scenes are checked in full (and their images owner-checked) by
    the model: errors name `scenes[i].field`."""

    kind = serializers.ChoiceField(choices=[Project.Kind.FILM])
    title = serializers.CharField(max_length=200)
    aspect_ratio = serializers.ChoiceField(choices=FILM_ASPECTS, required=False)
    resolution = serializers.ChoiceField(choices=FILM_RESOLUTIONS, required=False)
    voice = serializers.CharField(max_length=64, required=False,
                                  help_text="An installed espeak-ng voice code (GET /api/v1/projects/presets)")
    voice_speed = serializers.IntegerField(min_value=voices.SPEED_RANGE[0], max_value=voices.SPEED_RANGE[1], required=False)
    voice_pitch = serializers.IntegerField(min_value=voices.PITCH_RANGE[0], max_value=voices.PITCH_RANGE[1], required=False)
    subtitles = serializers.ChoiceField(choices=SUBTITLE_MODES, required=False)
    vibe = serializers.ChoiceField(choices=Project.VIBE_CHOICES, required=False, help_text="The title cards' palette")
    scenes = serializers.JSONField(help_text="[{narration, visual, duration_s, image_asset_id?}], 1–30 scenes")

    def validate_voice(self, value):
        if value not in voices.voice_codes():
            raise serializers.ValidationError(f"Unknown voice {value!r}; the voices are listed at GET /api/v1/projects/presets.")
        return value

    def validate_scenes(self, value):
        if not isinstance(value, list):
            raise serializers.ValidationError("A list of scenes.")
        return value


class FilmProjectUpdateSerializer(FilmProjectCreateSerializer):
    """PATCH of a film: any subset of its fields."""

    kind = serializers.ChoiceField(choices=[Project.Kind.FILM], required=False)
    title = serializers.CharField(max_length=200, required=False)
    scenes = serializers.JSONField(required=False)


class FilmProjectReplaceSerializer(FilmProjectCreateSerializer):
    kind = serializers.ChoiceField(choices=[Project.Kind.FILM], required=False)


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


class VoiceSerializer(serializers.Serializer):
    code = serializers.CharField(help_text="What a film's `voice` takes")
    name = serializers.CharField()
    gender = serializers.CharField()


class RangeSerializer(serializers.Serializer):
    min = serializers.IntegerField()
    max = serializers.IntegerField()
    default = serializers.IntegerField(required=False)


class FilmPresetsSerializer(serializers.Serializer):
    voices = VoiceSerializer(many=True)
    default_voice = serializers.CharField()
    voice_speed = RangeSerializer(help_text="Words per minute (espeak-ng -s)")
    voice_pitch = RangeSerializer(help_text="espeak-ng -p")
    aspect_ratios = serializers.ListField(child=serializers.CharField())
    resolutions = serializers.ListField(child=serializers.CharField())
    subtitle_modes = serializers.ListField(child=serializers.CharField())
    max_scenes = serializers.IntegerField()
    max_narration_chars = serializers.IntegerField()
    scene_duration_s = RangeSerializer()


class PresetsSerializer(serializers.Serializer):
    platforms = PlatformSerializer(many=True)
    vibes = VibeSerializer(many=True)
    limits = LimitsSerializer()
    quality_price_units = serializers.DictField(
        child=serializers.IntegerField(),
        help_text="A thumbnail job costs variants × quality_price_units[quality] × the thumbnail price in credits")
    variants = RangeSerializer()
    film = FilmPresetsSerializer()
