from mozukai_hub.api.routing import api_path

from . import views

urlpatterns = [
    *api_path("sessions", views.SessionListView.as_view(), name="sessions"),
    *api_path("sessions/<uuid:session_id>", views.SessionDetailView.as_view(), name="session-detail"),
    *api_path("chats", views.ChatListView.as_view(), name="chats"),
    *api_path("chats/<uuid:chat_id>", views.ChatDetailView.as_view(), name="chat-detail"),
    *api_path("chats/<uuid:chat_id>/runpod", views.ChatRunView.as_view(), name="chat-runpod"),
    *api_path("chats/<uuid:chat_id>/runpod/<uuid:run_id>", views.ChatRunDetailView.as_view(), name="chat-run"),
    *api_path("chats/<uuid:chat_id>/runpod/<uuid:run_id>/cancel", views.ChatRunCancelView.as_view(), name="chat-run-cancel"),
    *api_path("chats/<uuid:chat_id>/stop", views.ChatStopView.as_view(), name="chat-stop"),
    *api_path("messages", views.MessageListView.as_view(), name="messages"),
    *api_path("messages/<uuid:message_id>", views.MessageDetailView.as_view(), name="message-detail"),
    *api_path("chat/new", views.ChatNewView.as_view(), name="chat-new"),
    *api_path("chat/<uuid:chat_id>", views.ChatDetailView.as_view(), name="chat-detail-000"),
    *api_path("chat/<uuid:chat_id>/messages", views.ChatMessagesView.as_view(), name="chat-messages"),
]
