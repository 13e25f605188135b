"""The model refuses what the API refuses, so the admin's forms (which call full_clean) and the
database hold the same rules."""

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from studio.models import Project

pytestmark = pytest.mark.django_db

THUMBNAIL = {"kind": "thumbnail", "title": "T", "mode": "design", "platform": "youtube", "width": 1280, "height": 720,
             "headline": "T", "vibe": "bold", "model_pref": "local"}


@pytest.mark.parametrize("change, fields", [
    ({"width": 1280, "height": 800}, {"width", "height"}),
    ({"width": 640, "height": 360}, {"width", "height"}),
    ({"platform": "instagram_square", "width": 5000, "height": 5000}, {"width", "height"}),
    ({"headline": ""}, {"headline"}),
    # A film needs its own fields: a thumbnail's body is not a film.
    ({"kind": "film"}, {"aspect_ratio", "resolution", "voice", "subtitles", "scenes"}),
])
def test_full_clean_names_what_is_wrong(user, change, fields):
    with pytest.raises(ValidationError) as refused:
        Project(owner=user, **{**THUMBNAIL, **change}).full_clean()
    assert fields <= set(refused.value.message_dict)


@pytest.mark.parametrize("change", [{"width": 100}, {"height": 5000}, {"platform": "myspace"}, {"vibe": ""}, {"kind": "poster"}])
def test_the_database_refuses_an_incomplete_or_out_of_range_thumbnail(user, change):
    with pytest.raises(IntegrityError), transaction.atomic():
        Project.objects.create(owner=user, **{**THUMBNAIL, **change})
    assert Project.objects.count() == 0


FILM = {"kind": "film", "title": "F", "aspect_ratio": "16:9", "resolution": "720p", "voice": "en-us", "voice_speed": 165,
        "voice_pitch": 50, "subtitles": "both", "vibe": "professional",
        "scenes": [{"narration": "Hello.", "visual": "A lake", "duration_s": 3}]}


def test_a_complete_film_is_valid_and_its_scenes_are_made_canonical(user):
    film = Project(owner=user, **FILM)
    film.full_clean()
    assert film.scenes == [{"narration": "Hello.", "visual": "A lake", "duration_s": 3, "image_asset_id": None}]


@pytest.mark.parametrize("change", [{"voice": ""}, {"voice_speed": 500}, {"aspect_ratio": "4:3"}, {"subtitles": "none"},
                                    {"title": ""}])
def test_the_database_refuses_an_incomplete_film(user, change):
    with pytest.raises(IntegrityError), transaction.atomic():
        Project.objects.create(owner=user, **{**FILM, **change})
    assert Project.objects.count() == 0
