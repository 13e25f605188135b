"""The design chat's pages: `/c/` (your chats) and `/c/<chat_id>` (one chat)."""

from django.urls import path

from . import views

urlpatterns = [
    path("", views.chat_list_page, name="chat-list"),
    path("new", views.chat_new_page, name="chat-new-page"),
    path("<uuid:chat_id>", views.chat_page, name="chat-page"),
    path("<uuid:chat_id>/", views.chat_page),
]
