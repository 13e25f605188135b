"""Studio pages: the user's projects and the thumbnail editor. The editor is a small client of
the JSON API (static/studio/editor.js: PATCH the project, upload inputs, POST /jobs, follow the
jobs websocket, show the variants); the film editor is studio/film's (/studio/films/<id>/)."""

from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render

from pipeline.engines import engines_for
from pipeline.transitions import TERMINAL

from . import presets, selectors, services
from .api.serializers import ProjectSerializer
from .models import Project


def _engines() -> list[str]:
    """The thumbnail engines a person may pick here (configured ones; `client` is for API users)."""
    return [name for name in engines_for(Project.Kind.THUMBNAIL) if name != "client"]


@login_required
def studio_home(request):
    """The user's projects, and a form that starts a thumbnail project."""
    errors, values = {}, {"platform": "youtube", "vibe": "professional", "headline": ""}
    if request.method == "POST":
        values = {name: request.POST.get(name, "").strip() for name in ("platform", "vibe", "headline")}
        try:
            project = services.project_create(owner=request.user, **values)
        except ValidationError as exc:
            errors = exc.message_dict
        else:
            return redirect("studio-thumbnail", project_id=project.pk)
    projects = selectors.project_list(user=request.user)[:100]
    return render(request, "studio/home.html", {
        "projects": projects, "platforms": presets.PLATFORMS.values(), "vibes": presets.VIBES.values(),
        "values": values, "errors": errors,
    }, status=400 if errors else 200)


@login_required
def thumbnail_editor(request, project_id):
    project = selectors.project_get_for_user(user=request.user, project_id=project_id)
    if project.kind == Project.Kind.FILM:
        return redirect(f"/studio/films/{project.pk}/")
    return render(request, "studio/thumbnail.html", {
        "project": project,
        "project_data": ProjectSerializer(project, context={"request": request}).data,
        "presets_data": {**presets.presets_as_dict(), "film": None, "engines": _engines(),
                         "terminal": sorted(TERMINAL)},
    })
