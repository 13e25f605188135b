from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.generics import GenericAPIView
from rest_framework.response import Response

from .. import selectors, services
from . import serializers as s


class SessionListView(GenericAPIView):
    serializer_class = s.SessionSerializer

    def get_queryset(self):
        return selectors.session_list(user=self.request.user)

    @extend_schema(operation_id="sessions_list", responses=s.SessionSerializer(many=True))
    def get(self, request):
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(s.SessionSerializer(page, many=True).data)

    @extend_schema(request=s.SessionCreateSerializer, responses={201: s.SessionSerializer})
    def post(self, request):
        data = s.SessionCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        session = services.session_create(user=request.user, **data.validated_data)
        return Response(s.SessionSerializer(session).data, status=status.HTTP_201_CREATED)


class SessionDetailView(GenericAPIView):
    serializer_class = s.SessionSerializer

    def get(self, request, session_id):
        return Response(s.SessionSerializer(selectors.session_get_for_user(user=request.user, session_id=session_id)).data)

    @extend_schema(request=s.SessionUpdateSerializer)
    def patch(self, request, session_id):
        session = selectors.session_get_for_user(user=request.user, session_id=session_id)
        data = s.SessionUpdateSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        session = services.session_update(session=session, data=data.validated_data)
        return Response(s.SessionSerializer(session).data)

    put = patch

    def delete(self, request, session_id):
        services.session_delete(session=selectors.session_get_for_user(user=request.user, session_id=session_id))
        return Response(status=status.HTTP_204_NO_CONTENT)
