"""The projects list's query count is pinned: more projects, no more queries."""

import pytest

from mozukai_hub.testing.queries import list_queries_pinned
from studio.models import Project

pytestmark = pytest.mark.django_db


def test_projects_list_costs_the_same_queries_for_2_or_6_projects(auth_client, user, other_user):
    def add_projects(n):
        for i in range(n):
            Project.objects.create(owner=user, title=f"Video {i}", mode="design", platform="youtube", width=1280,
                                   height=720, headline=f"Video {i}", vibe="bold", model_pref="local")
        Project.objects.create(owner=other_user, title="theirs", mode="design", platform="x", width=1600, height=900,
                               headline="theirs", vibe="tech", model_pref="local")

    # auth (2), count, page, the inputs of the page, the latest jobs of the page (one windowed query)
    projects = list_queries_pinned(auth_client, "/api/v1/projects?kind=thumbnail", add_rows=add_projects, pin=6)
    assert len(projects) == 6 and all(p["user_id"] == str(user.pk) for p in projects)
