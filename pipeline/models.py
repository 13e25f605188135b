import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q

from mozukai_hub.ids import uuid7

from .engines import CLIENT
from .transitions import ALL_STATUSES, TERMINAL


JOB_KINDS = ["thumbnail", "film", "photo_style", "text_to_3d", "scad_render", "photogrammetry"]


class Job(models.Model):
    """One generation of any kind; its status follows `transitions.TRANSITIONS`."""

    class Kind(models.TextChoices):
        THUMBNAIL = "thumbnail"
        FILM = "film"
        PHOTO_STYLE = "photo_style"
        TEXT_TO_3D = "text_to_3d"
        SCAD_RENDER = "scad_render"
        PHOTOGRAMMETRY = "photogrammetry"

    class Status(models.TextChoices):
        PENDING = "pending"
        VALIDATING = "validating"
        QUEUED = "queued"
        PROCESSING = "processing"
        GENERATING_IMAGES = "generating_images"
        GENERATING_VIDEO = "generating_video"
        GENERATING_AUDIO = "generating_audio"
        COMPOSING = "composing"
        COMPLETED = "completed"
        FAILED = "failed"
        CANCELLED = "cancelled"

    class CreditsState(models.TextChoices):
        NONE = "none"  # the job costs nothing
        HELD = "held"
        SETTLED = "settled"
        RELEASED = "released"

    # Time-ordered: a job's id is also its credit hold's key ("hold:job:<id>"), and ordered
    # keys append to the ledger's unique index instead of dirtying a random page each.
    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    # A signed-in user, or (owner empty) an anonymous visitor: its address and a hash of the
    # token it got once at creation (see pipeline.owners).
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, null=True, blank=True, related_name="jobs")
    visitor_ip = models.GenericIPAddressField(null=True, blank=True)
    visitor_token_hash = models.CharField(max_length=64, blank=True)
    # Seed 001's `session_id` (jobs of a design session, `GET /jobs?session_id=`). The one app
    # link kept here because a seed names it; other apps (studio projects, chats) keep their
    # links to jobs on their side.
    session = models.ForeignKey("chat.Session", on_delete=models.SET_NULL, null=True, blank=True, related_name="jobs")
    kind = models.CharField(max_length=32, choices=Kind.choices)
    status = models.CharField(max_length=32, choices=Status.choices, default=Status.PENDING)
    stage = models.CharField(max_length=64, blank=True)
    progress = models.PositiveSmallIntegerField(default=0)
    prompt = models.TextField(blank=True)
    params = models.JSONField(default=dict, blank=True)
    result = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)
    error_type = models.CharField(max_length=32, blank=True)
    engine = models.CharField(max_length=32)
    provider_job_id = models.CharField(max_length=200, blank=True)
    credit_cost = models.PositiveIntegerField(default=0)
    credit_reference = models.CharField(max_length=80, blank=True)
    credits_state = models.CharField(max_length=16, choices=CreditsState.choices, default=CreditsState.NONE)
    moderation = models.JSONField(default=dict, blank=True, help_text="The moderation verdict (Verdict.as_dict())")
    attempts = models.PositiveSmallIntegerField(default=0)
    lease_token = models.UUIDField(null=True, blank=True)
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    # When the current run must be over (claim time + the kind's time limit): an expired lease
    # past it is a run that timed out, not a worker to replace.
    deadline_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    queued_at = models.DateTimeField(null=True, blank=True)
    # When the run was handed to the task broker. A queued job without it waits in the database
    # for one of its owner's dispatched jobs to end (PIPELINE_MAX_DISPATCHED_PER_OWNER at a time),
    # so one owner's many jobs cannot stand in front of everyone else's in the broker.
    dispatched_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    last_event_seq = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["owner", "-created_at"]),
            models.Index(fields=["status", "lease_expires_at"]),
            # Admission and dispatch count an owner's unfinished and recent jobs (pipeline.services.jobs).
            models.Index(fields=["owner", "status"], name="pipeline_job_owner_status"),
            models.Index(fields=["visitor_ip", "status"], name="pipeline_job_visitor_status"),
            models.Index(fields=["visitor_ip", "-created_at"], name="pipeline_job_visitor_created"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(status__in=ALL_STATUSES), name="pipeline_job_status_valid"),
            models.CheckConstraint(condition=Q(kind__in=JOB_KINDS), name="pipeline_job_kind_valid"),
            models.CheckConstraint(condition=Q(progress__lte=100), name="pipeline_job_progress_le_100"),
            models.CheckConstraint(condition=Q(credits_state__in=["none", "held", "settled", "released"]),
                                   name="pipeline_job_credits_state_valid"),
            models.CheckConstraint(
                condition=(Q(owner__isnull=False, visitor_ip__isnull=True, visitor_token_hash="")
                           | Q(owner__isnull=True, visitor_ip__isnull=False) & ~Q(visitor_token_hash="")),
                name="pipeline_job_one_kind_of_owner",
            ),
        ]

    def __str__(self):
        return f"{self.kind} {self.id} ({self.status})"

    @property
    def is_terminal(self) -> bool:
        return self.status in TERMINAL

    @property
    def client_worked(self) -> bool:
        """The owner runs this job and reports its status; the server runs nothing."""
        return self.engine == CLIENT


class JobEvent(models.Model):
    """Append-only, ordered log of a job; `seq` is 1, 2, 3… per job."""

    class Type(models.TextChoices):
        STATUS = "status"
        PROGRESS = "progress"
        LOG = "log"
        OUTPUT = "output"

    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="events")
    seq = models.PositiveIntegerField()
    type = models.CharField(max_length=16, choices=Type.choices)
    data = models.JSONField(default=dict)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["job", "seq"]
        constraints = [
            models.UniqueConstraint(fields=["job", "seq"], name="pipeline_jobevent_job_seq_unique"),
            models.CheckConstraint(condition=Q(type__in=["status", "progress", "log", "output"]), name="pipeline_jobevent_type_valid"),
        ]

    def as_message(self) -> dict:
        return {"job_id": str(self.job_id), "seq": self.seq, "type": self.type, "data": self.data, "at": self.created_at.isoformat()}


def asset_upload_to(instance, filename):
    # Generated names only: nothing of the client's file name reaches the storage path.
    folder = instance.owner_id or f"visitor-jobs/{instance.job_id}"
    return f"assets/{folder}/{uuid.uuid4().hex}.{instance.asset_type}"


class Asset(models.Model):
    class Type(models.TextChoices):
        GLB = "glb"
        STL = "stl"
        PNG = "png"
        JPG = "jpg"
        WEBP = "webp"
        MP4 = "mp4"
        WAV = "wav"
        SCAD = "scad"
        PLY = "ply"
        OBJ = "obj"
        JSON = "json"
        VTT = "vtt"

    class Role(models.TextChoices):
        OUTPUT = "output"
        UPLOAD = "upload"
        SELFIE = "selfie"
        REF = "ref"
        COPY_TARGET = "copy_target"
        PROFILE_PHOTO = "profile_photo"
        PHOTO = "photo"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    # Empty only for a file of an anonymous visitor's job: readable with that job's token.
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, null=True, blank=True, related_name="assets")
    job = models.ForeignKey(Job, on_delete=models.CASCADE, null=True, blank=True, related_name="assets")
    asset_type = models.CharField(max_length=16, choices=Type.choices)
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.OUTPUT)
    is_primary = models.BooleanField(default=False)
    file = models.FileField(upload_to=asset_upload_to, max_length=300, blank=True)
    uri = models.CharField(max_length=1000, blank=True, help_text="External location; recorded, never fetched")
    size = models.PositiveBigIntegerField(null=True, blank=True)
    content_type = models.CharField(max_length=100, blank=True)
    checksum = models.CharField(max_length=64, blank=True, help_text="sha256 hex")
    width = models.PositiveIntegerField(null=True, blank=True)
    height = models.PositiveIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["owner", "-created_at"]), models.Index(fields=["job", "asset_type"])]
        constraints = [
            models.CheckConstraint(condition=~Q(file="") | ~Q(uri=""), name="pipeline_asset_has_file_or_uri"),
            models.CheckConstraint(condition=Q(owner__isnull=False) | Q(job__isnull=False), name="pipeline_asset_owned"),
        ]

    def __str__(self):
        return f"{self.asset_type} {self.id}"


class JobInput(models.Model):
    """An asset a job reads (selfie, reference, photos), checked against the job's owner when the
    job is created and again when its run starts. A deleted asset leaves the row with no asset,
    so the run can say what went missing."""

    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="inputs")
    asset = models.ForeignKey(Asset, on_delete=models.SET_NULL, null=True, blank=True, related_name="job_inputs")
    asset_ref = models.UUIDField(help_text="The asset's id, kept when the asset is deleted")
    role = models.CharField(max_length=16, choices=Asset.Role.choices)

    class Meta:
        ordering = ["job", "id"]
        constraints = [models.UniqueConstraint(fields=["job", "asset_ref"], name="pipeline_jobinput_job_asset_unique")]

    def __str__(self):
        return f"{self.role} {self.asset_ref} of {self.job_id}"


class AssetMeta(models.Model):
    """Part metadata of an asset (seed 001)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    asset = models.ForeignKey(Asset, on_delete=models.CASCADE, related_name="metas")
    part_name = models.CharField(max_length=200, blank=True)
    component_of = models.ForeignKey(Asset, on_delete=models.SET_NULL, null=True, blank=True, related_name="components")
    position_json = models.JSONField(default=dict, blank=True)
    image_paths_json = models.JSONField(default=list, blank=True)
    material_json = models.JSONField(default=dict, blank=True)
    is_composite_of = models.JSONField(default=list, blank=True)
    used_for_json = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["created_at"]

    def __str__(self):
        return self.part_name or str(self.id)
