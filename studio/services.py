"""Studio writes: projects (thumbnail and film) and their inputs. Each service validates through
the model (`full_clean`, which the admin's forms share) and owns its transaction."""

from django.core.exceptions import ValidationError
from django.db import transaction

from pipeline.services.assets import IMAGE_TYPES

from . import presets
from .film import voices
from .models import Project, ProjectInput

# What a caller may set; `width`/`height` are resolved against the platform (presets.size_resolve).
PROJECT_FIELDS = ("title", "mode", "platform", "width", "height", "headline", "subtext", "vibe", "model_pref")
# What PUT resets an omitted field to (as `project_create` would have).
THUMBNAIL_DEFAULTS = {
    "title": "", "mode": Project.Mode.DESIGN, "width": None, "height": None, "subtext": "",
    "vibe": "professional", "model_pref": Project.ModelPref.LOCAL,
}


# A film project's fields, and what create (and PUT, for omitted fields) gives them.
FILM_FIELDS = ("title", "aspect_ratio", "resolution", "voice", "voice_speed", "voice_pitch", "subtitles", "vibe", "scenes")
FILM_DEFAULTS = {
    "aspect_ratio": "16:9", "resolution": "720p", "voice": voices.DEFAULT_VOICE, "voice_speed": voices.DEFAULT_SPEED,
    "voice_pitch": voices.DEFAULT_PITCH, "subtitles": "both", "vibe": "professional",
}


def _kind_available(kind: str) -> None:
    if kind not in Project.Kind.values:
        raise ValidationError({"kind": [f"Unknown kind {kind!r}."]})


def _title_from(headline: str) -> str:
    return " ".join(headline.split())[:200]


@transaction.atomic
def project_create(
    *, owner, kind: str = Project.Kind.THUMBNAIL, title: str = "", mode: str = Project.Mode.DESIGN, platform: str,
    width: int | None = None, height: int | None = None, headline: str, subtext: str = "",
    vibe: str = "professional", model_pref: str = Project.ModelPref.LOCAL,
) -> Project:
    """A thumbnail project. A size left out comes from the platform (one side given: the other
    follows the platform's aspect); a title left out is the headline."""
    _kind_available(kind)
    if kind != Project.Kind.THUMBNAIL:
        raise ValidationError({"kind": ["project_create makes thumbnails; use film_project_create."]})
    if platform in presets.PLATFORMS:
        width, height = presets.size_resolve(presets.PLATFORMS[platform], width, height)
    project = Project(
        owner=owner, kind=kind, title=title or _title_from(headline), mode=mode, platform=platform, width=width,
        height=height, headline=headline, subtext=subtext, vibe=vibe, model_pref=model_pref,
    )
    project.full_clean()
    project.save()
    return project


@transaction.atomic
def project_update(*, project: Project, data: dict, replace: bool = False) -> Project:
    """PATCH (`replace=False`: only the fields in `data` change) or PUT (`replace=True`: fields
    left out go back to their defaults). A new platform without a size takes the platform's
    size; one side given, the other follows the platform's aspect."""
    if "kind" in data:
        _kind_available(data["kind"])
        if data["kind"] != project.kind:
            raise ValidationError({"kind": ["A project's kind cannot change."]})
    if project.kind == Project.Kind.FILM:
        return _film_project_update(project=project, data=data, replace=replace)
    locked = Project.objects.select_for_update().get(pk=project.pk)
    # The same platform sent again keeps a custom size; PUT resets it like every omitted field.
    resize = replace or {"width", "height"} & set(data) or data.get("platform", locked.platform) != locked.platform
    if replace:
        data = {**THUMBNAIL_DEFAULTS, **data}
    fields = [name for name in PROJECT_FIELDS if name in data]
    for name in fields:
        setattr(locked, name, data[name])
    if not locked.title:
        locked.title = _title_from(locked.headline)
        fields.append("title")
    platform = presets.PLATFORMS.get(locked.platform)
    if platform and resize:
        locked.width, locked.height = presets.size_resolve(platform, data.get("width"), data.get("height"))
        fields += ["width", "height"]
    locked.full_clean()
    locked.save(update_fields=[*dict.fromkeys(fields), "updated_at"])
    return locked


@transaction.atomic
def film_project_create(*, owner, title: str, scenes: list, **fields) -> Project:
    """A film project (seed 003). Fields left out take FILM_DEFAULTS; the scenes are checked
    (and their images owner-checked) by the model's clean."""
    unknown = sorted(set(fields) - set(FILM_FIELDS))
    if unknown:
        raise ValidationError({name: ["Unknown field."] for name in unknown})
    project = Project(owner=owner, kind=Project.Kind.FILM, title=title, scenes=scenes, **{**FILM_DEFAULTS, **fields})
    project.full_clean()
    project.save()
    return project


def _film_project_update(*, project: Project, data: dict, replace: bool) -> Project:
    unknown = sorted(set(data) - {"kind", *FILM_FIELDS})
    if unknown:
        raise ValidationError({name: ["Not a field of a film project."] for name in unknown})
    locked = Project.objects.select_for_update().get(pk=project.pk)
    if replace:
        data = {**FILM_DEFAULTS, **data}
    fields = [name for name in FILM_FIELDS if name in data]
    for name in fields:
        setattr(locked, name, data[name])
    locked.full_clean()
    locked.save(update_fields=[*fields, "updated_at"])
    return locked


def project_delete(*, project: Project) -> None:
    project.delete()


def project_input_add(*, project: Project, asset) -> ProjectInput:
    """Record an upload as one of the project's inputs (its role says what for: selfie, ref,
    copy_target). Called in the upload's transaction (see studio.apps)."""
    if asset.owner_id != project.owner_id:
        raise ValidationError({"project_id": ["An input must be its project owner's upload."]})
    project_input, _ = ProjectInput.objects.get_or_create(project=project, asset=asset)
    Project.objects.filter(pk=project.pk).update(updated_at=project_input.created_at)
    return project_input


def project_job_params(*, project: Project, options: dict) -> tuple[str, dict]:
    """The kind and params snapshot of a job made from `project` (contract section 1): later
    edits of the project do not change a job. `options`: a thumbnail's `quality` (std|hd,
    default std) and `variants` (1–4, default 1); a film takes none."""
    from . import selectors

    if project.kind == Project.Kind.FILM:
        stray = sorted(options)
        if stray:
            raise ValidationError({name: ["A film job takes no " + name + "."] for name in stray})
        return project.kind, {
            "project_id": str(project.pk), "title": project.title, "vibe": project.vibe,
            "aspect_ratio": project.aspect_ratio, "resolution": project.resolution, "voice": project.voice,
            "voice_speed": project.voice_speed, "voice_pitch": project.voice_pitch, "subtitles": project.subtitles,
            "scenes": [{"narration": s["narration"], "visual": s["visual"], "duration_s": s["duration_s"],
                        "image_asset_id": s.get("image_asset_id")} for s in project.scenes],
        }
    quality = options.get("quality", "std")
    variants = options.get("variants", 1)
    errors = {}
    if quality not in presets.QUALITY_PRICE_UNITS:
        errors["quality"] = [f"One of: {', '.join(presets.QUALITY_PRICE_UNITS)}."]
    low, high = presets.VARIANTS_RANGE
    if not low <= variants <= high:
        errors["variants"] = [f"From {low} to {high}."]
    if errors:
        raise ValidationError(errors)
    return project.kind, {
        "project_id": str(project.pk), "title": project.title, "mode": project.mode, "platform": project.platform,
        "width": project.width, "height": project.height, "headline": project.headline, "subtext": project.subtext,
        "vibe": project.vibe, "quality": quality, "variants": variants,
        "inputs": selectors.project_latest_inputs(project=project),
    }


def project_job_source(*, user, value, options: dict) -> tuple[str, dict]:
    """pipeline's job-source hook for `project_id` (registered in studio.apps): another user's
    project is a 404."""
    from . import selectors

    return project_job_params(project=selectors.project_get_for_user(user=user, project_id=value), options=options)


def project_upload_target(*, user, value):
    """pipeline's upload-target hook for `project_id` (registered in studio.apps): the project is
    resolved (404 if not the caller's) before anything is stored; the returned callable records
    the stored upload as the project's input (an image of role selfie, ref or copy_target)."""
    from . import selectors

    project = selectors.project_get_for_user(user=user, project_id=value)

    def attach(asset):
        if asset.role not in presets.INPUT_ROLES:
            raise ValidationError({"type": [f"A project's input is one of: {', '.join(presets.INPUT_ROLES)}."]})
        if asset.asset_type not in IMAGE_TYPES:
            raise ValidationError({"file": ["A project's input must be an image (PNG, JPEG or WebP)."]})
        return project_input_add(project=project, asset=asset)

    return attach
