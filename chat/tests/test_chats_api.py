"""Seed 001's chats and messages and seed 000's chat routes, as their curls send them."""

import pytest
from django.test import override_settings

from chat.models import Chat, ChatEvent, Message, Session
from mozukai_hub.testing.fixtures import bearer_client

pytestmark = pytest.mark.django_db


def _session(client, name="My Session"):
    response = client.post("/api/v1/sessions", {"name": name, "status": "active"}, format="json")
    assert response.status_code == 201
    return response.json()["id"]


def test_seed_001_chats_and_messages(auth_client, user):
    session_id = _session(auth_client)
    created = auth_client.post("/api/v1/chats", {"session_id": session_id, "title": "First chat"}, format="json")
    assert created.status_code == 201, created.content
    chat = created.json()
    assert chat["session_id"] == session_id and chat["title"] == "First chat"
    listed = auth_client.get(f"/api/v1/chats?session_id={session_id}")
    assert listed.status_code == 200 and [c["id"] for c in listed.json()] == [chat["id"]]
    assert auth_client.get(f"/api/v1/chats/{chat['id']}").json()["title"] == "First chat"
    renamed = auth_client.patch(f"/api/v1/chats/{chat['id']}", {"title": "Renamed chat"}, format="json")
    assert renamed.status_code == 200 and renamed.json()["title"] == "Renamed chat"

    message = auth_client.post("/api/v1/messages", {"chat_id": chat["id"], "role": "user", "content": "Hello", "tokens": 5},
                               format="json")
    assert message.status_code == 201, message.content
    body = message.json()
    assert (body["chat_id"], body["role"], body["content"], body["tokens"], body["status"]) == (chat["id"], "user", "Hello", 5, "complete")
    second = auth_client.post("/api/v1/messages/", {"chat_id": chat["id"], "role": "assistant", "content": "Hi"}, format="json").json()
    assert second["seq"] > body["seq"]
    listed = auth_client.get(f"/api/v1/messages?chat_id={chat['id']}").json()
    assert [m["content"] for m in listed] == ["Hello", "Hi"]
    assert [m["content"] for m in auth_client.get("/api/v1/messages").json()] == ["Hello", "Hi"]
    assert auth_client.get(f"/api/v1/messages/{body['id']}").json()["content"] == "Hello"
    assert auth_client.delete(f"/api/v1/messages/{body['id']}").status_code == 204
    assert Message.objects.filter(chat_id=chat["id"]).count() == 1
    # every change is an event of the chat's stream, numbered in order
    types = list(ChatEvent.objects.filter(chat_id=chat["id"]).order_by("seq").values_list("type", flat=True))
    assert types == ["message.created", "message.created", "message.deleted"]
    assert auth_client.delete(f"/api/v1/chats/{chat['id']}").status_code == 204
    assert not Chat.objects.exists() and not Message.objects.exists()


def test_get_chats_needs_session_id_and_another_users_session_lists_nothing(auth_client, user, other_user):
    assert auth_client.get("/api/v1/chats").status_code == 400
    assert auth_client.get("/api/v1/chats?session_id=nope").status_code == 400
    theirs = Session.objects.create(owner=other_user, name="theirs")
    Chat.objects.create(session=theirs, title="secret")
    response = auth_client.get(f"/api/v1/chats?session_id={theirs.id}")
    assert response.status_code == 200 and response.json() == []


def test_another_users_chat_and_message_are_404_everywhere(auth_client, other_user, api_client):
    theirs = Chat.objects.create(session=Session.objects.create(owner=other_user, name="theirs"), title="secret")
    message = Message.objects.create(chat=theirs, seq=1, role="user", content="private")
    for path in (f"/api/v1/chats/{theirs.id}", f"/api/v1/chat/{theirs.id}", f"/api/v1/chat/{theirs.id}/messages",
                 f"/api/v1/messages/{message.id}"):
        assert auth_client.get(path).status_code == 404, path
    assert auth_client.get(f"/api/v1/messages?chat_id={theirs.id}").json() == []
    assert auth_client.patch(f"/api/v1/chats/{theirs.id}", {"title": "mine"}, format="json").status_code == 404
    assert auth_client.delete(f"/api/v1/chats/{theirs.id}").status_code == 404
    assert auth_client.delete(f"/api/v1/messages/{message.id}").status_code == 404
    assert auth_client.post("/api/v1/messages", {"chat_id": str(theirs.id), "role": "user", "content": "x"},
                            format="json").status_code == 404
    assert auth_client.post(f"/api/v1/chat/{theirs.id}/messages", {"content": "x", "sender": "user"},
                            format="json").status_code == 404
    assert auth_client.post(f"/api/v1/chats/{theirs.id}/runpod", {"action": "health"}, format="json").status_code == 404
    assert auth_client.post("/api/v1/chats", {"session_id": str(theirs.session_id), "title": "x"}, format="json").status_code == 404
    assert api_client.get(f"/api/v1/chats/{theirs.id}").status_code == 401
    assert api_client.post("/api/v1/chat/new", {}, format="json").status_code == 401
    theirs.refresh_from_db()
    assert theirs.title == "secret" and Message.objects.count() == 1 and Chat.objects.count() == 1


@override_settings(SITE_URL="https://hub.example")
def test_seed_000_chat_new_get_and_messages(auth_client, user):
    created = auth_client.post("/api/v1/chat/new", {"session_name": "My Chat"}, format="json")
    assert created.status_code == 201, created.content
    chat_id = created.json()["chat_id"]
    assert created.json()["url"] == f"https://hub.example/c/{chat_id}"
    again = auth_client.post("/api/v1/chat/new", format="json")  # the body is optional
    assert again.status_code == 201
    # both in the user's one default session
    assert Session.objects.filter(owner=user).count() == 1
    assert Chat.objects.get(pk=chat_id).title == "My Chat"
    chat = auth_client.get(f"/api/v1/chat/{chat_id}")
    assert chat.status_code == 200 and chat.json()["id"] == chat_id
    sent = auth_client.post(f"/api/v1/chat/{chat_id}/messages", {"content": "Hello!", "sender": "user"}, format="json")
    assert sent.status_code == 201 and sent.json()["sender"] == "user" and sent.json()["content"] == "Hello!"
    auth_client.post(f"/api/v1/chat/{chat_id}/messages", {"content": "Welcome.", "sender": "assistant"}, format="json")
    messages = auth_client.get(f"/api/v1/chat/{chat_id}/messages")
    assert messages.status_code == 200 and [m["content"] for m in messages.json()] == ["Hello!", "Welcome."]


def test_bad_message_input_is_400_and_stores_nothing(auth_client, user, settings):
    settings.CHAT_MESSAGE_MAX_CHARS = 50
    chat = Chat.objects.create(session=Session.objects.create(owner=user, name="s"))
    cases = [
        ({"chat_id": str(chat.id), "role": "robot", "content": "x"}, "role"),
        ({"chat_id": str(chat.id), "role": "user"}, "content"),
        ({"chat_id": str(chat.id), "role": "user", "content": "x", "colour": "red"}, "colour"),
        ({"chat_id": str(chat.id), "role": "user", "content": "x" * 51}, "content"),
        ({"chat_id": str(chat.id), "role": "user", "content": "x", "tokens": -1}, "tokens"),
        ({"role": "user", "content": "x"}, "chat_id"),
    ]
    for body, field in cases:
        response = auth_client.post("/api/v1/messages", body, format="json")
        assert response.status_code == 400, (body, response.content)
        assert field in response.json()["error"]["fields"], (field, response.json())
    too_long = auth_client.post(f"/api/v1/chat/{chat.id}/messages", {"content": "y" * 51}, format="json").json()
    assert "At most 50 characters" in too_long["error"]["fields"]["content"][0]
    assert auth_client.post(f"/api/v1/chat/{chat.id}/messages", {"content": "x", "sender": "bot"}, format="json").status_code == 400
    assert not Message.objects.exists() and not ChatEvent.objects.exists()


def test_messages_list_query_count_is_pinned(auth_client, user, django_assert_max_num_queries):
    chat = Chat.objects.create(session=Session.objects.create(owner=user, name="s"))
    for i in range(8):
        Message.objects.create(chat=chat, seq=i + 1, role="user", content=f"m{i}", parts={"assets": []})
    with django_assert_max_num_queries(6):
        assert len(auth_client.get(f"/api/v1/chat/{chat.id}/messages").json()) == 8


def test_chats_of_one_user_are_not_shown_to_another(user, other_user):
    mine = Session.objects.create(owner=user, name="mine")
    Chat.objects.create(session=mine, title="a")
    assert bearer_client(other_user).get(f"/api/v1/chats?session_id={mine.id}").json() == []
