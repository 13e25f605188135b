import pytest
from django.db import connection

from chat.models import Chat, Session

SEED_REQUIREMENTS = {
    "model_type": "drone",
    "primary_function": "A small quadcopter frame for hobby use",
    "description_natural_language": "A compact central body with four arms equally spaced...",
    "standard_components": [{"name": "Flight controller", "search_term": "stack 20x20 mm"}],
    "custom_description": "Use 3 mm thick arms, 160 mm motor-to-motor...",
}


@pytest.fixture(autouse=True)
def _private_media(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")
    settings.CHAT_BACKEND = "local"


@pytest.fixture
def chat(user):
    return Chat.objects.create(session=Session.objects.create(owner=user, name="Design Session 1"), title="First chat")


def events(chat, since: int = 0) -> list[tuple[str, dict]]:
    return [(e.type, e.data) for e in chat.events.filter(seq__gt=since).order_by("seq")]


def in_thread(function):
    """`function` for a worker thread: its own database connection is closed when it ends."""

    def run():
        try:
            function()
        finally:
            connection.close()

    return run
