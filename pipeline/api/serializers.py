from rest_framework import serializers

from mozukai_hub.api.serializers import StrictSerializer

from .. import storage
from ..models import Asset, AssetMeta, Job, JobEvent
from ..services.jobs import job_queue_positions
from ..transitions import client_transitions


class AssetSerializer(serializers.ModelSerializer):
    user_id = serializers.UUIDField(source="owner_id", read_only=True, allow_null=True)
    job_id = serializers.UUIDField(read_only=True, allow_null=True)
    stored = serializers.SerializerMethodField()

    class Meta:
        model = Asset
        fields = ["id", "user_id", "job_id", "asset_type", "role", "is_primary", "uri", "stored", "size",
                  "content_type", "checksum", "width", "height", "created_at"]

    def get_stored(self, asset) -> bool:
        return bool(asset.file)


class JobAssetSerializer(serializers.ModelSerializer):
    class Meta:
        model = Asset
        fields = ["id", "asset_type", "is_primary", "size", "content_type"]


class JobOutputSerializer(serializers.ModelSerializer):
    """A stored output with a signed, expiring download link (PIPELINE_DOWNLOAD_URL_SECONDS)."""

    url = serializers.SerializerMethodField()

    class Meta:
        model = Asset
        fields = ["id", "asset_type", "is_primary", "size", "content_type", "width", "height", "url"]

    def get_url(self, asset) -> str:
        return storage.download_url(asset=asset, request=self.context.get("request"))[0]


class JobListSerializer(serializers.ListSerializer):
    """Queue positions of a whole page in one query (`services.job_queue_positions`)."""

    def to_representation(self, data):
        jobs = list(data.all() if hasattr(data, "all") else data)
        self.child.context["queue_positions"] = job_queue_positions(jobs=jobs)
        return super().to_representation(jobs)


class JobSerializer(serializers.ModelSerializer):
    user_id = serializers.UUIDField(source="owner_id", read_only=True, allow_null=True)
    session_id = serializers.UUIDField(read_only=True, allow_null=True)
    output_format = serializers.SerializerMethodField()
    assets = serializers.SerializerMethodField()
    outputs = serializers.SerializerMethodField(
        help_text="The job's stored outputs with signed download URLs (seed 000); `result` says what each is")
    cost_credits = serializers.IntegerField(source="credit_cost", read_only=True,
                                            help_text="Credits the job costs (seed 000's name; same as credit_cost)")
    valid_transitions = serializers.SerializerMethodField(
        help_text="The statuses you may set now with PATCH …/status (what `valid-transitions` answers)")
    queue_position = serializers.SerializerMethodField(
        help_text="While queued: how many of your jobs will start before this one (0: it is your next); "
                  "null otherwise. Your jobs run at most PIPELINE_MAX_DISPATCHED_PER_OWNER at a time.")

    class Meta:
        model = Job
        list_serializer_class = JobListSerializer
        fields = ["id", "user_id", "session_id", "kind", "status", "stage", "progress", "prompt", "output_format",
                  "params", "result", "error", "error_type", "engine", "provider_job_id", "credit_cost", "cost_credits",
                  "attempts", "assets", "outputs", "valid_transitions", "queue_position", "last_event_seq", "created_at",
                  "updated_at", "queued_at", "started_at", "finished_at"]

    def get_output_format(self, job) -> str | None:
        return job.params.get("output_format")

    def get_assets(self, job) -> list:
        assets = getattr(job, "asset_list", None)
        if assets is None:
            assets = list(job.assets.all())
        return JobAssetSerializer(assets, many=True).data

    def get_outputs(self, job) -> list:
        assets = getattr(job, "asset_list", None)
        if assets is None:
            assets = list(job.assets.all())
        stored = [a for a in assets if a.file and a.role == Asset.Role.OUTPUT]
        return JobOutputSerializer(stored, many=True, context=self.context).data

    def get_valid_transitions(self, job) -> list[str]:
        return client_transitions(job.status, client_worked=job.client_worked)

    def get_queue_position(self, job) -> int | None:
        positions = self.context.get("queue_positions")
        if positions is None:
            positions = job_queue_positions(jobs=[job])
        return positions.get(job.pk)


class JobCreateSerializer(StrictSerializer):
    session_id = serializers.UUIDField(required=False, allow_null=True)
    prompt = serializers.CharField(required=False, allow_blank=False, max_length=2000)
    output_format = serializers.CharField(required=False, max_length=8)
    kind = serializers.CharField(required=False, max_length=32)
    params = serializers.JSONField(required=False)
    engine = serializers.CharField(required=False, max_length=32,
                                   help_text="Server engine of the kind, or `client`: you run the job and report its status")
    model = serializers.CharField(required=False, max_length=32, help_text="Alias of engine")
    model_pref = serializers.CharField(required=False, max_length=32, help_text="Alias of engine")
    start = serializers.BooleanField(required=False, default=True)
    # A job made from something another app owns (api/hooks.py): studio's projects (seed 000).
    project_id = serializers.UUIDField(required=False, help_text="Make the job from this project of yours (kind and "
                                       "params are the project's; see GET /api/v1/projects/presets)")
    quality = serializers.CharField(required=False, max_length=16, help_text="With project_id: std or hd (thumbnails)")
    variants = serializers.IntegerField(required=False, min_value=0, max_value=100,
                                        help_text="With project_id: how many variants (thumbnails, 1–4)")

    SOURCE_OPTIONS = ("quality", "variants")

    def validate_params(self, value):
        if not isinstance(value, dict):
            raise serializers.ValidationError("Expected a JSON object.")
        return value

    def validate(self, attrs):
        if attrs.get("project_id"):
            clash = [name for name in ("kind", "params", "prompt", "output_format", "session_id") if name in attrs]
            if clash:
                raise serializers.ValidationError({name: ["Not with project_id: the project gives the job's kind and params."]
                                                   for name in clash})
        else:
            stray = [name for name in self.SOURCE_OPTIONS if name in attrs]
            if stray:
                raise serializers.ValidationError({name: ["Only with project_id."] for name in stray})
            if not attrs.get("prompt") and not attrs.get("kind") and not attrs.get("params"):
                raise serializers.ValidationError({"prompt": ["Give a prompt, or a kind with params (or a project_id)."]})
        attrs["engine"] = attrs.pop("engine", None) or attrs.pop("model", None) or attrs.pop("model_pref", None)
        attrs.pop("model", None)
        attrs.pop("model_pref", None)
        return attrs


class JobStatusSerializer(StrictSerializer):
    status = serializers.CharField(max_length=32)
    error = serializers.CharField(required=False, allow_blank=True, max_length=4000)
    error_type = serializers.CharField(required=False, allow_blank=True, max_length=32)


class JobEventSerializer(serializers.ModelSerializer):
    class Meta:
        model = JobEvent
        fields = ["seq", "type", "data", "created_at"]


class AssetRecordSerializer(StrictSerializer):
    job_id = serializers.UUIDField(required=False, allow_null=True)
    asset_type = serializers.ChoiceField(choices=Asset.Type.choices)
    uri = serializers.CharField(max_length=1000)
    size = serializers.IntegerField(required=False, min_value=0)
    content_type = serializers.CharField(required=False, max_length=100)
    checksum = serializers.RegexField(r"^[0-9a-fA-F]{64}$", required=False)


UPLOAD_ROLES = [r for r in Asset.Role.choices if r[0] != "output"]


class AssetUploadSerializer(StrictSerializer):
    file = serializers.FileField()
    role = serializers.ChoiceField(choices=UPLOAD_ROLES, default="upload")
    # Seed 000 names the role `type` (`curl -F "type=profile_photo"`), and the README promises
    # its calls work as written: either name is accepted.
    type = serializers.ChoiceField(choices=UPLOAD_ROLES, required=False, write_only=True, help_text="Alias of role (seed 000).")
    job_id = serializers.UUIDField(required=False, allow_null=True)
    project_id = serializers.UUIDField(required=False, allow_null=True,
                                       help_text="Record the upload as an input of this project of yours (seed 000)")

    def validate(self, attrs):
        alias = attrs.pop("type", None)
        if alias is not None:
            if "role" in self.initial_data and self.initial_data.get("role") != alias:
                raise serializers.ValidationError({"type": ["Give role or type (they are the same), not two different values."]})
            attrs["role"] = alias
        return attrs


class AssetMetaSerializer(serializers.ModelSerializer):
    asset_id = serializers.UUIDField(read_only=True)
    component_of = serializers.UUIDField(source="component_of_id", read_only=True, allow_null=True)

    class Meta:
        model = AssetMeta
        fields = ["id", "asset_id", "part_name", "component_of", "position_json", "image_paths_json",
                  "material_json", "is_composite_of", "used_for_json", "created_at", "updated_at"]


class AssetMetaWriteSerializer(StrictSerializer):
    asset_id = serializers.UUIDField()
    part_name = serializers.CharField(required=False, allow_blank=True, max_length=200)
    component_of = serializers.UUIDField(required=False, allow_null=True)
    position_json = serializers.JSONField(required=False)
    image_paths_json = serializers.JSONField(required=False)
    material_json = serializers.JSONField(required=False)
    is_composite_of = serializers.ListField(child=serializers.UUIDField(), required=False)
    used_for_json = serializers.JSONField(required=False)


class AssetMetaPatchSerializer(AssetMetaWriteSerializer):
    asset_id = None


class DownloadURLSerializer(serializers.Serializer):
    url = serializers.URLField()
    download_url = serializers.URLField(help_text="Same as url")
    expires_at = serializers.DateTimeField()
    asset_id = serializers.UUIDField()
    asset_type = serializers.CharField()


class ValidTransitionsSerializer(serializers.Serializer):
    job_id = serializers.UUIDField()
    current_status = serializers.CharField()
    valid_transitions = serializers.ListField(child=serializers.CharField())
