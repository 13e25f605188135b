"""The studio pages: /studio/ lists the user's projects (films link to the film editor) and
starts a thumbnail project; the thumbnail editor page carries its data for static/studio/editor.js.
The clicks themselves: test_studio_browser.py."""

import json

import pytest

from studio import services
from studio.models import Project

pytestmark = pytest.mark.django_db


@pytest.fixture
def signed_in(client, user):
    client.force_login(user)
    return client


def test_studio_needs_an_account(client):
    response = client.get("/studio/")
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_the_list_shows_only_the_users_projects_and_links_films_to_the_film_editor(signed_in, user, other_user):
    thumb = services.project_create(owner=user, platform="tiktok", headline="Ten tips")
    film = services.film_project_create(owner=user, title="Lake film", scenes=[{"narration": "Hi.", "duration_s": 2}])
    services.project_create(owner=other_user, platform="x", headline="Not mine")
    page = signed_in.get("/studio/").content.decode()
    assert f'href="/studio/thumbnails/{thumb.pk}/"' in page and f'href="/studio/films/{film.pk}/"' in page
    assert "Ten tips" in page and "Lake film" in page and "Not mine" not in page
    assert "TikTok · 1080×1920" in page and "1 scene" in page


def test_the_form_creates_a_thumbnail_and_opens_its_editor(signed_in, user):
    response = signed_in.post("/studio/", {"platform": "youtube", "headline": "My first video", "vibe": "bold"})
    project = Project.objects.get(owner=user)
    assert response.status_code == 302 and response["Location"] == f"/studio/thumbnails/{project.pk}/"
    assert (project.width, project.height, project.vibe, project.title) == (1280, 720, "bold", "My first video")

    refused = signed_in.post("/studio/", {"platform": "myspace", "headline": "", "vibe": "bold"})
    assert refused.status_code == 400 and Project.objects.count() == 1
    assert "platform:" in refused.content.decode() and "headline:" in refused.content.decode()


def test_the_editor_carries_the_project_and_presets_without_inline_script(signed_in, user, other_user, thumb_test_engine):
    project = services.project_create(owner=user, platform="youtube", headline="Grow moss")
    response = signed_in.get(f"/studio/thumbnails/{project.pk}/")
    assert response.status_code == 200
    page = response.content.decode()
    data = json.loads(page.split('<script id="project-data" type="application/json">')[1].split("</script>")[0])
    assert data["id"] == str(project.pk) and data["headline"] == "Grow moss"
    presets = json.loads(page.split('<script id="presets-data" type="application/json">')[1].split("</script>")[0])
    assert "thumb_test" in presets["engines"] and "client" not in presets["engines"]
    assert {"youtube", "tiktok"} <= {p["key"] for p in presets["platforms"]} and "completed" in presets["terminal"]
    # Every executable script is a static file (the CSP refuses inline ones).
    assert '<script src="/static/studio/editor.js' in page
    assert page.count("<script") == page.count('type="application/json"') + page.count("<script src=")

    theirs = services.project_create(owner=other_user, platform="x", headline="Theirs")
    assert signed_in.get(f"/studio/thumbnails/{theirs.pk}/").status_code == 404
    film = services.film_project_create(owner=user, title="F", scenes=[{"narration": "Hi."}])
    assert signed_in.get(f"/studio/thumbnails/{film.pk}/")["Location"] == f"/studio/films/{film.pk}/"
