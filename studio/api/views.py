from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.generics import GenericAPIView
from rest_framework.permissions import AllowAny
from rest_framework.response import Response

from .. import presets, selectors, services
from . import serializers as s


class ProjectPresetsView(GenericAPIView):
    """Platforms (sizes, aspects, safe zones) and vibes (palettes, type): public, the same for everyone."""

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
        return self.get_paginated_response(s.ProjectSerializer(page, many=True).data)

    @extend_schema(request=s.ProjectCreateSerializer, responses={201: s.ProjectSerializer})
    def post(self, request):
        data = s.ProjectCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        project = services.project_create(owner=request.user, **data.validated_data)
        return Response(s.ProjectSerializer(project).data, status=status.HTTP_201_CREATED)


class ProjectDetailView(GenericAPIView):
    serializer_class = s.ProjectSerializer

    def _project(self, request, project_id):
        return selectors.project_get_for_user(user=request.user, project_id=project_id)

    def get(self, request, project_id):
        return Response(s.ProjectSerializer(self._project(request, project_id)).data)

    @extend_schema(request=s.ProjectUpdateSerializer)
    def patch(self, request, project_id):
        project = self._project(request, project_id)
        data = s.ProjectUpdateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        return Response(s.ProjectSerializer(services.project_update(project=project, data=data.validated_data)).data)

    @extend_schema(request=s.ProjectCreateSerializer, description="Replace: fields left out go back to their defaults.")
    def put(self, request, project_id):
        project = self._project(request, project_id)
        data = s.ProjectCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        project = services.project_update(project=project, data=data.validated_data, replace=True)
        return Response(s.ProjectSerializer(project).data)

    def delete(self, request, project_id):
        services.project_delete(project=self._project(request, project_id))
        return Response(status=status.HTTP_204_NO_CONTENT)
