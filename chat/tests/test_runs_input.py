"""Bad input to the assistant's actions: a clear 400 naming the field, and nothing stored."""

import pytest

from chat.models import ChatEvent, ChatRun, Message

from .conftest import SEED_REQUIREMENTS

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("body, field", [
    ({"action": "make_coffee"}, "action"),
    ({"content": "x"}, "action"),
    ({"action": "health", "colour": "red"}, "colour"),
    ({"action": "process_requirements"}, "content"),
    ({"action": "generate_scad", "requirements_json": [1, 2]}, "requirements_json"),
    ({"action": "generate_scad", "requirements_json": "drone"}, "requirements_json"),
    ({"action": "health", "metadata_json": {"status_timeout_seconds": 0}}, "metadata_json.status_timeout_seconds"),
    ({"action": "health", "metadata_json": {"status_timeout_seconds": "soon"}}, "metadata_json.status_timeout_seconds"),
    ({"action": "process_requirements", "content": "x", "history": [{"role": "robot", "content": "hi"}]}, "history.0"),
    ({"action": "process_requirements", "content": "x", "history": "hi"}, "history"),
    ({"action": "generate_scad"}, "requirements_json"),
])
def test_bad_actions_are_400_and_store_nothing(auth_client, chat, body, field):
    response = auth_client.post(f"/api/v1/chats/{chat.id}/runpod", body, format="json")
    assert response.status_code == 400, response.content
    fields = response.json()["error"].get("fields", {})
    assert any(name == field or name.startswith(field) for name in fields), (field, response.json())
    assert not ChatRun.objects.exists() and not Message.objects.exists() and not ChatEvent.objects.exists()


@pytest.mark.parametrize("dimensions", [
    [{"name": "motor_spacing", "value": 0, "unit": "mm", "value_mm": 0}],
    [{"name": "motor_spacing", "value": 10, "unit": "m", "value_mm": 10000}],
])
def test_absurd_sizes_are_400(auth_client, chat, dimensions):
    response = auth_client.post(f"/api/v1/chats/{chat.id}/runpod", {
        "action": "generate_scad", "requirements_json": {**SEED_REQUIREMENTS, "dimensions": dimensions}}, format="json")
    assert response.status_code == 400, response.content
    assert not ChatRun.objects.exists() and not Message.objects.exists()


def test_oversized_content_names_the_limit(auth_client, chat, settings):
    settings.CHAT_MESSAGE_MAX_CHARS = 100
    response = auth_client.post(f"/api/v1/chats/{chat.id}/runpod", {"action": "process_requirements", "content": "a" * 101},
                                format="json")
    assert response.status_code == 400 and "At most 100 characters" in response.json()["error"]["fields"]["content"][0]
    assert not Message.objects.exists()


def test_a_users_assistant_actions_are_capped_over_rest_and_socket_alike(auth_client, chat, settings):
    settings.CHAT_MAX_RUNS_IN_FLIGHT = 2
    body = {"action": "process_requirements", "content": "A small bracket"}
    for _ in range(2):
        assert auth_client.post(f"/api/v1/chats/{chat.id}/runpod", body, format="json").status_code == 202
    refused = auth_client.post(f"/api/v1/chats/{chat.id}/runpod", body, format="json")
    assert refused.status_code == 429 and refused["Retry-After"] and refused.json()["error"]["code"] == "throttled"
    assert ChatRun.objects.filter(chat=chat).count() == 2
    settings.CHAT_MAX_RUNS_IN_FLIGHT, settings.CHAT_MAX_RUNS_PER_MINUTE = 0, 2
    assert auth_client.post(f"/api/v1/chats/{chat.id}/runpod", body, format="json").status_code == 429
