"""The sessions list's query count is pinned: more sessions, no more queries."""

import pytest

from chat.models import Session
from mozukai_hub.testing.queries import list_queries_pinned

pytestmark = pytest.mark.django_db


def test_sessions_list_costs_the_same_queries_for_2_or_6_sessions(auth_client, user, other_user):
    def add_sessions(n):
        for i in range(n):
            Session.objects.create(owner=user, name=f"Design session {i}", metadata_json={"source": "web"})
        Session.objects.create(owner=other_user, name="theirs")

    sessions = list_queries_pinned(auth_client, "/api/v1/sessions", add_rows=add_sessions, pin=4)
    assert len(sessions) == 6 and all(s["user_id"] == str(user.pk) for s in sessions)
