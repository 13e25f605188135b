"""Studio writes: projects. Each service validates through the model (`full_clean`, which the
admin's forms share) and owns its transaction."""

from django.core.exceptions import ValidationError
from django.db import transaction

from . import presets
from .models import FILM_NOT_YET, Project

# What a caller may set; `width`/`height` are resolved against the platform (presets.size_resolve).
PROJECT_FIELDS = ("title", "mode", "platform", "width", "height", "headline", "subtext", "vibe", "model_pref")
# What PUT resets an omitted field to (as `project_create` would have).
THUMBNAIL_DEFAULTS = {
    "title": "", "mode": Project.Mode.DESIGN, "width": None, "height": None, "subtext": "",
    "vibe": "professional", "model_pref": Project.ModelPref.LOCAL,
}


def _kind_available(kind: str) -> None:
    if kind == Project.Kind.FILM:
        raise ValidationError({"kind": [FILM_NOT_YET]})
    if kind != Project.Kind.THUMBNAIL:
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


def project_delete(*, project: Project) -> None:
    project.delete()
