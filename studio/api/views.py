from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.generics import GenericAPIView
from rest_framework.permissions import AllowAny
from rest_framework.response import Response

from .. import presets, selectors, services
from ..models import Project
from . import serializers as s


def _with_latest_jobs(projects) -> list:
    projects = list(projects)
    latest = selectors.project_jobs_latest(projects=projects)
    for project in projects:
        project.latest_jobs = latest[project.pk]
    return projects


def _render(request, project, **kwargs) -> dict:
    return s.ProjectSerializer(project, context={"request": request}, **kwargs).data


def _create_serializer(data):
    """The body's kind picks its fields: a film's (seed 003) or a thumbnail's (seed 000)."""
    is_film = isinstance(data, dict) and data.get("kind") == Project.Kind.FILM
    return (s.FilmProjectCreateSerializer if is_film else s.ProjectCreateSerializer)(data=data)


class ProjectPresetsView(GenericAPIView):
    """Platforms (sizes, aspects, safe zones), vibes (palettes, type), thumbnail quality prices and
    the film choices (voices with speed and pitch ranges, aspects, resolutions, subtitle modes):
    public, the same for everyone."""

    permission_classes = [AllowAny]
    serializer_class = s.PresetsSerializer

    @extend_schema(operation_id="projects_presets", responses=s.PresetsSerializer)
    def get(self, request):
        return Response(s.PresetsSerializer(presets.presets_as_dict()).data)


class ProjectListView(GenericAPIView):
    serializer_class = s.ProjectSerializer

    @extend_schema(operation_id="projects_list", parameters=[OpenApiParameter("kind", enum=["thumbnail", "film"])],
                   responses=s.ProjectSerializer(many=True))
    def get(self, request):
        query = s.ProjectListQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        page = self.paginate_queryset(selectors.project_list(user=request.user, kind=query.validated_data.get("kind")))
        return self.get_paginated_response(_render(request, _with_latest_jobs(page), many=True))

    @extend_schema(request=s.ProjectCreateSerializer, responses={201: s.ProjectSerializer},
                   description='A thumbnail project (seed 000), or a film project (seed 003) with `"kind": "film"` '
                               "and the fields of FilmProjectCreate.")
    def post(self, request):
        data = _create_serializer(request.data)
        data.is_valid(raise_exception=True)
        v = dict(data.validated_data)
        if v.get("kind") == Project.Kind.FILM:
            v.pop("kind")
            project = services.film_project_create(owner=request.user, **v)
        else:
            project = services.project_create(owner=request.user, **v)
        return Response(_render(request, project), status=status.HTTP_201_CREATED)


class ProjectDetailView(GenericAPIView):
    serializer_class = s.ProjectSerializer

    def _project(self, request, project_id):
        return selectors.project_get_for_user(user=request.user, project_id=project_id)

    def _reload(self, request, project):
        return _render(request, self._project(request, project.pk))

    def get(self, request, project_id):
        return Response(_render(request, self._project(request, project_id)))

    @extend_schema(request=s.ProjectUpdateSerializer, description="Any subset of the project's fields (a film's: FilmProjectUpdate).")
    def patch(self, request, project_id):
        project = self._project(request, project_id)
        film = project.kind == Project.Kind.FILM
        data = (s.FilmProjectUpdateSerializer if film else s.ProjectUpdateSerializer)(data=request.data)
        data.is_valid(raise_exception=True)
        return Response(self._reload(request, services.project_update(project=project, data=data.validated_data)))

    @extend_schema(request=s.ProjectCreateSerializer, description="Replace: fields left out go back to their defaults.")
    def put(self, request, project_id):
        project = self._project(request, project_id)
        film = project.kind == Project.Kind.FILM
        data = (s.FilmProjectReplaceSerializer if film else s.ProjectCreateSerializer)(data=request.data)
        data.is_valid(raise_exception=True)
        project = services.project_update(project=project, data=data.validated_data, replace=True)
        return Response(self._reload(request, project))

    def delete(self, request, project_id):
        services.project_delete(project=self._project(request, project_id))
        return Response(status=status.HTTP_204_NO_CONTENT)
