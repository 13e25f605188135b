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
    ({"kind": "film"}, {"kind"}),
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
