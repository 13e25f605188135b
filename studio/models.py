import uuid

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q

from mozukai_hub.ids import uuid7

from . import presets
from .film.voices import PITCH_RANGE as FILM_PITCH_RANGE
from .film.voices import SPEED_RANGE as FILM_SPEED_RANGE
from .film.voices import voice_codes

FILM_ASPECTS = ("16:9", "9:16", "1:1")
FILM_RESOLUTIONS = ("720p", "1080p")
SUBTITLE_MODES = ("burned", "file", "both")
SCENES_MAX = 30
NARRATION_MAX = 600
VISUAL_MAX = 300
DURATION_RANGE = (1, 30)  # seconds a scene lasts at least (its narration may make it longer)
SCENE_KEYS = ("narration", "visual", "duration_s", "image_asset_id")


def scenes_clean(scenes, *, owner) -> list[dict]:
    """A film's scenes in their canonical form: [{narration, visual, duration_s, image_asset_id}]
    (1–SCENES_MAX of them; narration ≤ NARRATION_MAX characters; duration_s in DURATION_RANGE;
    image_asset_id None or the id of one of `owner`'s uploaded images of role `ref`).

    Errors name the place: `scenes`, `scenes[2].narration`, … Another user's image is refused as
    a missing one would be (its existence is not revealed)."""
    from pipeline.models import Asset

    if not isinstance(scenes, list):
        raise ValidationError({"scenes": ["A list of scenes."]})
    if not 1 <= len(scenes) <= SCENES_MAX:
        raise ValidationError({"scenes": [f"Between 1 and {SCENES_MAX} scenes (got {len(scenes)})."]})
    errors: dict[str, list[str]] = {}
    clean: list[dict] = []
    for i, scene in enumerate(scenes):
        where = f"scenes[{i}]"
        if not isinstance(scene, dict):
            errors[where] = ["A scene is an object {narration, visual, duration_s, image_asset_id}."]
            continue
        for key in sorted(set(scene) - set(SCENE_KEYS)):
            errors[f"{where}.{key}"] = ["Unknown field."]
        narration, visual = scene.get("narration", ""), scene.get("visual", "")
        duration, image = scene.get("duration_s", 5), scene.get("image_asset_id")
        if not isinstance(narration, str) or len(narration) > NARRATION_MAX:
            errors[f"{where}.narration"] = [f"A text of at most {NARRATION_MAX} characters."]
        if not isinstance(visual, str) or len(visual) > VISUAL_MAX:
            errors[f"{where}.visual"] = [f"A text of at most {VISUAL_MAX} characters."]
        elif isinstance(narration, str) and not (narration.strip() or visual.strip()):
            errors[f"{where}.narration"] = ["Give the scene a narration or a visual."]
        low, high = DURATION_RANGE
        if isinstance(duration, bool) or not isinstance(duration, (int, float)) or not low <= duration <= high:
            errors[f"{where}.duration_s"] = [f"A number of seconds from {low} to {high}."]
        if image not in (None, ""):
            try:
                image = str(uuid.UUID(str(image)))
            except ValueError:
                errors[f"{where}.image_asset_id"] = ["Must be a valid UUID."]
                image = None
        else:
            image = None
        clean.append({"narration": narration, "visual": visual, "duration_s": duration, "image_asset_id": image})
    wanted = {scene["image_asset_id"] for scene in clean if scene["image_asset_id"]}
    if wanted:
        found = {str(pk) for pk in Asset.objects.filter(
            id__in=wanted, owner_id=getattr(owner, "pk", owner), role=Asset.Role.REF,
            asset_type__in=[Asset.Type.PNG, Asset.Type.JPG, Asset.Type.WEBP],
        ).values_list("id", flat=True)}
        for i, scene in enumerate(clean):
            if scene["image_asset_id"] and scene["image_asset_id"] not in found:
                errors.setdefault(f"scenes[{i}].image_asset_id", [
                    f"No uploaded image {scene['image_asset_id']} of yours with type ref (upload it with type=ref)."])
    if errors:
        raise ValidationError(errors)
    return clean


class Project(models.Model):
    """A creative project: seed 000's thumbnail or seed 003's film.

    Each kind's fields are empty on the other kind, so constraints, not NOT NULL, require them
    per kind (`vibe` and `title` are shared: a film's vibe is its title cards' palette)."""

    class Kind(models.TextChoices):
        THUMBNAIL = "thumbnail"
        FILM = "film"

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
    aspect_ratio = models.CharField(max_length=8, choices=[(a, a) for a in FILM_ASPECTS], blank=True)
    resolution = models.CharField(max_length=8, choices=[(r, r) for r in FILM_RESOLUTIONS], blank=True)
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
            models.CheckConstraint(
                condition=~Q(kind="film") | (
                    Q(aspect_ratio__in=FILM_ASPECTS, resolution__in=FILM_RESOLUTIONS, subtitles__in=SUBTITLE_MODES,
                      vibe__in=list(presets.VIBES))
                    & ~Q(title="") & ~Q(voice="")
                    & Q(voice_speed__gte=FILM_SPEED_RANGE[0], voice_speed__lte=FILM_SPEED_RANGE[1])
                    & Q(voice_pitch__gte=FILM_PITCH_RANGE[0], voice_pitch__lte=FILM_PITCH_RANGE[1])
                ),
                name="studio_project_film_complete",
            ),
        ]

    def __str__(self):
        return self.title

    @property
    def size(self) -> str:
        return f"{self.width}×{self.height}" if self.width and self.height else ""

    def clean(self):
        if self.kind == self.Kind.FILM:
            self._clean_film()
            return
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

    def _clean_film(self):
        errors = {name: ["This field is required."] for name in ("title", "aspect_ratio", "resolution", "voice", "subtitles",
                                                                  "vibe", "voice_speed", "voice_pitch")
                  if getattr(self, name) in ("", None)}
        if self.voice and self.voice not in voice_codes():
            errors["voice"] = [f"Unknown voice {self.voice!r}; the voices are listed at GET /api/v1/projects/presets."]
        for name, (low, high) in (("voice_speed", FILM_SPEED_RANGE), ("voice_pitch", FILM_PITCH_RANGE)):
            value = getattr(self, name)
            if value is not None and not low <= value <= high:
                errors[name] = [f"Must be {low}–{high} (got {value})."]
        try:
            self.scenes = scenes_clean(self.scenes, owner=self.owner_id)
        except ValidationError as exc:
            errors.update(exc.message_dict)
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
