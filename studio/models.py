from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q

from mozukai_hub.ids import uuid7

from . import presets

FILM_NOT_YET = "Film projects are not available yet."


class Project(models.Model):
    """A creative project (seed 000's thumbnail project; seed 003's film project is reserved).

    The thumbnail fields are empty on other kinds, so a constraint, not NOT NULL, requires them
    on thumbnails."""

    class Kind(models.TextChoices):
        THUMBNAIL = "thumbnail"
        FILM = "film"  # issue 12: refused until film projects exist

    class Mode(models.TextChoices):
        DESIGN = "design", "Design from the text, vibe and uploads"
        COPY = "copy", "Follow a copy_target's layout (never its pixels)"

    class ModelPref(models.TextChoices):
        LOCAL = "local", "Local (offline)"
        NANO_BANANA = "nano_banana", "Gemini (nano banana)"
        BYTEDANCE = "bytedance", "Seedream (ByteDance)"
        FAL = "fal", "fal"

    PLATFORM_CHOICES = [(p.key, p.name) for p in presets.PLATFORMS.values()]
    VIBE_CHOICES = [(v.key, v.name) for v in presets.VIBES.values()]

    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="projects")
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.THUMBNAIL)
    title = models.CharField(max_length=200)
    # Thumbnail fields (seed 000).
    mode = models.CharField(max_length=16, choices=Mode.choices, blank=True)
    platform = models.CharField(max_length=32, choices=PLATFORM_CHOICES, blank=True)
    width = models.PositiveIntegerField(null=True, blank=True, help_text="px")
    height = models.PositiveIntegerField(null=True, blank=True, help_text="px")
    headline = models.CharField(max_length=120, blank=True)
    subtext = models.CharField(max_length=200, blank=True)
    vibe = models.CharField(max_length=32, choices=VIBE_CHOICES, blank=True)
    model_pref = models.CharField(max_length=32, choices=ModelPref.choices, blank=True)
    # Film fields (seed 003, issue 12). `scenes`: an ordered list of
    # {narration, visual, duration_s, image_asset_id?}; validated by the film project services.
    aspect_ratio = models.CharField(max_length=8, choices=[("16:9", "16:9"), ("9:16", "9:16"), ("1:1", "1:1")], blank=True)
    resolution = models.CharField(max_length=8, choices=[("720p", "720p"), ("1080p", "1080p")], blank=True)
    voice = models.CharField(max_length=64, blank=True, help_text="An installed espeak-ng voice")
    voice_speed = models.PositiveSmallIntegerField(null=True, blank=True, help_text="Words per minute (espeak-ng -s)")
    voice_pitch = models.PositiveSmallIntegerField(null=True, blank=True, help_text="0–99 (espeak-ng -p)")
    subtitles = models.CharField(max_length=8, choices=[("burned", "Burned in"), ("file", "WebVTT file"), ("both", "Both")], blank=True)
    scenes = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-updated_at", "-id"]
        indexes = [models.Index(fields=["owner", "-updated_at"], name="studio_project_owner_updated")]
        constraints = [
            models.CheckConstraint(condition=Q(kind__in=["thumbnail", "film"]), name="studio_project_kind_valid"),
            models.CheckConstraint(
                condition=~Q(kind="thumbnail") | (
                    Q(mode__in=["design", "copy"], platform__in=list(presets.PLATFORMS), vibe__in=list(presets.VIBES),
                      model_pref__in=["local", "nano_banana", "bytedance", "fal"])
                    & ~Q(headline="")
                    & Q(width__gte=presets.MIN_SIDE, width__lte=presets.MAX_SIDE)
                    & Q(height__gte=presets.MIN_SIDE, height__lte=presets.MAX_SIDE)
                ),
                name="studio_project_thumbnail_complete",
            ),
        ]

    def __str__(self):
        return self.title

    @property
    def size(self) -> str:
        return f"{self.width}×{self.height}" if self.width and self.height else ""

    def clean(self):
        if self.kind == self.Kind.FILM:
            raise ValidationError({"kind": [FILM_NOT_YET]})
        if self.kind != self.Kind.THUMBNAIL:
            return
        required = {name: ["This field is required."] for name in ("mode", "platform", "headline", "vibe", "model_pref",
                                                                     "width", "height") if getattr(self, name) in ("", None)}
        if required:
            raise ValidationError(required)
        if self.platform not in presets.PLATFORMS:
            return  # the field's own choice check names it
        errors = presets.size_errors(presets.PLATFORMS[self.platform], self.width, self.height)
        if errors:
            raise ValidationError(errors)


class ProjectInput(models.Model):
    """An uploaded file a project uses (seed 000's selfie, ref, copy_target; a film scene's image)."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="inputs")
    asset = models.ForeignKey("pipeline.Asset", on_delete=models.CASCADE, related_name="project_inputs")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [models.UniqueConstraint(fields=["project", "asset"], name="studio_project_input_unique")]

    def __str__(self):
        return f"{self.project_id} ← {self.asset_id}"
