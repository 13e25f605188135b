from django.conf import settings
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers as drf_serializers
from rest_framework import status
from rest_framework.exceptions import ValidationError
from rest_framework.generics import GenericAPIView
from rest_framework.response import Response

from mozukai_hub.client_ip import client_ip

from .. import runs, selectors, services
from . import serializers as s


def _uuid_param(request, name: str, *, required: bool = False):
    value = request.query_params.get(name)
    if not value:
        if required:
            raise ValidationError({name: ["This query parameter is required."]})
        return None
    try:
        return drf_serializers.UUIDField().to_internal_value(value)
    except drf_serializers.ValidationError:
        raise ValidationError({name: ["Must be a valid UUID."]})


def _valid(serializer_class, request, **kwargs) -> dict:
    data = serializer_class(data=request.data, **kwargs)
    data.is_valid(raise_exception=True)
    return data.validated_data


def _messages(messages, request) -> list:
    return s.MessageSerializer(messages, many=True, context={"request": request, "assets": s.message_assets(messages)}).data


def _message(message, request) -> dict:
    return s.MessageSerializer(message, context={"request": request, "assets": s.message_assets([message])}).data


# --- Sessions (seed 001) --------------------------------------------------------------------


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
        session = services.session_create(user=request.user, **_valid(s.SessionCreateSerializer, request))
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


# --- Chats (seed 001) -----------------------------------------------------------------------


class ChatListView(GenericAPIView):
    serializer_class = s.ChatSerializer

    @extend_schema(operation_id="chats_list", parameters=[OpenApiParameter("session_id", required=True)],
                   responses=s.ChatSerializer(many=True))
    def get(self, request):
        session_id = _uuid_param(request, "session_id", required=True)
        page = self.paginate_queryset(selectors.chat_list(user=request.user, session_id=session_id))
        return self.get_paginated_response(s.ChatSerializer(page, many=True).data)

    @extend_schema(request=s.ChatCreateSerializer, responses={201: s.ChatSerializer})
    def post(self, request):
        data = _valid(s.ChatCreateSerializer, request)
        session = selectors.session_get_for_user(user=request.user, session_id=data["session_id"])
        chat = services.chat_create(session=session, title=data["title"])
        return Response(s.ChatSerializer(chat).data, status=status.HTTP_201_CREATED)


class ChatDetailView(GenericAPIView):
    serializer_class = s.ChatSerializer

    def get(self, request, chat_id):
        return Response(s.ChatSerializer(selectors.chat_get_for_user(user=request.user, chat_id=chat_id)).data)

    @extend_schema(request=s.ChatUpdateSerializer)
    def patch(self, request, chat_id):
        chat = selectors.chat_get_for_user(user=request.user, chat_id=chat_id)
        chat = services.chat_update(chat=chat, data=_valid(s.ChatUpdateSerializer, request))
        return Response(s.ChatSerializer(chat).data)

    put = patch

    def delete(self, request, chat_id):
        services.chat_delete(chat=selectors.chat_get_for_user(user=request.user, chat_id=chat_id))
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- Messages (seed 001) --------------------------------------------------------------------


class MessageListView(GenericAPIView):
    serializer_class = s.MessageSerializer

    @extend_schema(operation_id="messages_list", parameters=[OpenApiParameter("chat_id")], responses=s.MessageSerializer(many=True))
    def get(self, request):
        chat_id = _uuid_param(request, "chat_id")
        page = self.paginate_queryset(selectors.message_list(user=request.user, chat_id=chat_id))
        return self.get_paginated_response(_messages(page, request))

    @extend_schema(request=s.MessageCreateSerializer, responses={201: s.MessageSerializer})
    def post(self, request):
        data = _valid(s.MessageCreateSerializer, request)
        chat = selectors.chat_get_for_user(user=request.user, chat_id=data["chat_id"])
        message = services.message_create(chat=chat, role=data["role"], content=data["content"], tokens=data["tokens"])
        return Response(_message(message, request), status=status.HTTP_201_CREATED)


class MessageDetailView(GenericAPIView):
    serializer_class = s.MessageSerializer

    def get(self, request, message_id):
        return Response(_message(selectors.message_get_for_user(user=request.user, message_id=message_id), request))

    def delete(self, request, message_id):
        services.message_delete(message=selectors.message_get_for_user(user=request.user, message_id=message_id))
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- Seed 000's chat routes -----------------------------------------------------------------


class ChatNewView(GenericAPIView):
    serializer_class = s.ChatNewSerializer

    @extend_schema(request=s.ChatNewSerializer, responses={201: dict})
    def post(self, request):
        data = _valid(s.ChatNewSerializer, request)
        chat = services.chat_create_in_default_session(user=request.user, title=data["session_name"])
        return Response({"chat_id": str(chat.pk), "url": s.chat_page_url(chat.pk), "session_id": str(chat.session_id),
                         "title": chat.title}, status=status.HTTP_201_CREATED)


class ChatMessagesView(GenericAPIView):
    serializer_class = s.MessageSerializer

    @extend_schema(operation_id="chat_messages_list", responses=s.MessageSerializer(many=True))
    def get(self, request, chat_id):
        chat = selectors.chat_get_for_user(user=request.user, chat_id=chat_id)
        page = self.paginate_queryset(selectors.message_list(user=request.user, chat_id=chat.pk))
        return self.get_paginated_response(_messages(page, request))

    @extend_schema(request=s.ChatMessageCreateSerializer, responses={201: s.MessageSerializer})
    def post(self, request, chat_id):
        chat = selectors.chat_get_for_user(user=request.user, chat_id=chat_id)
        data = _valid(s.ChatMessageCreateSerializer, request)
        message = services.message_create(chat=chat, role=data["sender"], content=data["content"], tokens=data["tokens"])
        return Response(_message(message, request), status=status.HTTP_201_CREATED)


# --- The assistant's actions (seed 001's runpod) ----------------------------------------------


class ChatRunView(GenericAPIView):
    serializer_class = s.RunSerializer

    @extend_schema(request=s.RunRequestSerializer, responses={202: s.RunSerializer, 200: s.RunSerializer})
    def post(self, request, chat_id):
        chat = selectors.chat_get_for_user(user=request.user, chat_id=chat_id)
        data = _valid(s.RunRequestSerializer, request)
        sync = data.pop("sync")
        run = runs.chat_run_request(chat=chat, client_ip=client_ip(request), **data)
        if sync:
            run = runs.chat_run_wait(run=run, seconds=settings.CHAT_SYNC_WAIT_SECONDS)
        done = run.is_terminal
        return Response(s.RunSerializer(run).data, status=status.HTTP_200_OK if done else status.HTTP_202_ACCEPTED)


class ChatRunDetailView(GenericAPIView):
    serializer_class = s.RunSerializer

    def get(self, request, chat_id, run_id):
        return Response(s.RunSerializer(selectors.chat_run_get_for_user(user=request.user, chat_id=chat_id, run_id=run_id)).data)


class ChatRunCancelView(GenericAPIView):
    serializer_class = s.RunSerializer

    @extend_schema(request=None, responses=s.RunSerializer)
    def post(self, request, chat_id, run_id):
        run = selectors.chat_run_get_for_user(user=request.user, chat_id=chat_id, run_id=run_id)
        return Response(s.RunSerializer(runs.chat_run_cancel(run=run)).data)


class ChatStopView(GenericAPIView):
    """"Stop generating": every unfinished run of the chat (a socket close is only a disconnect)."""

    serializer_class = s.RunSerializer

    @extend_schema(request=None, responses=s.RunSerializer(many=True))
    def post(self, request, chat_id):
        chat = selectors.chat_get_for_user(user=request.user, chat_id=chat_id)
        return Response(s.RunSerializer(runs.chat_runs_stop(chat=chat), many=True).data)
