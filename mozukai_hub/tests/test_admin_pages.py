"""The admin: one heading per app, and every change list fits a 1280 px wide window."""

import datetime
import decimal
import itertools
import re
import uuid

import pytest
from django.contrib import admin
from django.contrib.auth import SESSION_KEY
from django.db import models
from django.test import Client
from django.utils import timezone

from mozukai_hub.testing.fixtures import make_user

_serial = itertools.count(1)
IDENTIFIER = re.compile(r"id$|key|reference|jti|token|slug|hash|checksum|func|path|uri|group|cluster|type$")


def _value(field: models.Field, n: int):
    """A realistic, long-ish value: ids, references and e-mails are what make columns wide."""
    if field.choices:
        return field.choices[-1][0]
    if isinstance(field, models.EmailField):
        return f"customer.with.a.long.name{n}@mozukai-example.test"[: field.max_length]
    if isinstance(field, models.GenericIPAddressField):
        return f"2001:db8:85a3::8a2e:370:{n}"
    if isinstance(field, models.URLField):
        return f"/media/a/rather/long/path/{uuid.uuid4().hex}"[: field.max_length]
    if isinstance(field, models.FileField):
        return f"assets/{uuid.uuid4().hex}.bin"
    if isinstance(field, models.TextField):
        return f"A sentence of ordinary words, as people write them in a text field number {n}."
    if isinstance(field, models.CharField):
        if IDENTIFIER.search(field.name):  # one unbreakable token, as real ones are
            return f"{field.name}:{uuid.uuid4()}"[: field.max_length]
        return f"{field.name.replace('_', ' ').capitalize()} number {n} in words"[: field.max_length]
    if isinstance(field, models.BooleanField):
        return True
    if isinstance(field, models.DecimalField):
        return decimal.Decimal(min(1234, 10 ** (field.max_digits - field.decimal_places) - 1))
    if isinstance(field, (models.IntegerField, models.FloatField)):
        return 42
    if isinstance(field, models.DateTimeField):
        return timezone.now()
    if isinstance(field, models.DateField):
        return datetime.date(1990, 1, 1)
    if isinstance(field, models.DurationField):
        return datetime.timedelta(minutes=5)
    if isinstance(field, models.UUIDField):
        return uuid.uuid4()
    if isinstance(field, models.JSONField):
        return {"sample": n}
    if isinstance(field, models.BinaryField):
        return b"x"
    if type(field).__name__ == "PickledObjectField":  # django-q2's task arguments and results
        return {"sample": n}
    raise TypeError(f"no sample value for {field!r}")


def build_row(model, depth: int = 0, **given):
    """A saved row of `model` with every field filled, related rows built the same way."""
    if model._meta.label == "accounts.User":
        return make_user(full_name="Ada Lovelace-Moss of the Long Name")
    if model._meta.label in SPECIAL:
        given = {**SPECIAL[model._meta.label], **given}
    n = next(_serial)
    values = dict(given)
    for field in model._meta.concrete_fields:
        if field.name in values:
            continue
        if field.primary_key and (field.has_default() or isinstance(field, models.AutoField)):
            continue
        if isinstance(field, (models.ForeignKey, models.OneToOneField)):
            if field.null and depth > 1:
                continue
            values[field.name] = build_row(field.related_model, depth + 1)
            continue
        if getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False):
            continue
        values[field.name] = _value(field, n)
    return model.objects.create(**values)


# Fields the generic values would break a constraint with.
SPECIAL = {
    "billing.CreditAccount": {"client_ip": None},  # one owner: a user or an address
    "studio.Project": {"voice_speed": 165},  # a film (the last kind): espeak-ng's 80–400 words a minute
    "django_q.Failure": {"success": False},  # proxies of one task table, split by outcome
    "django_q.Success": {"success": True},
    "django_q.Schedule": {"cron": None, "schedule_type": "D", "func": "accounts.tasks.revoked_token_purge"},
    "pipeline.Job": {"credits_state": "released", "engine": "local", "error_type": "unsupported_prompt",
                     # One owner, a user or a visitor: nullable foreign keys stay empty deeper down.
                     "owner": None, "visitor_ip": "2001:db8:85a3::8a2e:370:7334", "visitor_token_hash": "0" * 64},
}


@pytest.fixture
def staff():
    return make_user(is_staff=True, is_superuser=True, full_name="Staff Person")


@pytest.mark.django_db
def test_admin_index_has_one_heading_per_app(staff):
    client = Client()
    client.force_login(staff)
    html = client.get("/admin/").content.decode()
    assert "Users and profiles" in html
    assert html.count(">Accounts<") == 1


@pytest.mark.django_db(transaction=True)
def test_every_change_list_fits_1280_px(page, live_server, staff):
    registered = sorted(admin.site._registry, key=lambda m: m._meta.label)
    for model in registered:
        for _ in range(2):
            build_row(model)
    client = Client()
    client.force_login(staff)
    page.context.add_cookies([{"name": "sessionid", "value": client.cookies["sessionid"].value, "url": live_server.url}])
    assert client.session[SESSION_KEY] == str(staff.pk)
    too_wide = {}
    for model in registered:
        path = f"/admin/{model._meta.app_label}/{model._meta.model_name}/"
        response = page.goto(path)
        assert response.status == 200, path
        assert page.locator("#result_list tbody tr").count() >= 2, path
        # The page itself, and the results box (the admin scrolls a too-wide table inside it).
        width = page.evaluate(
            "Math.max(document.documentElement.scrollWidth,"
            " document.querySelector('#changelist .results').scrollWidth"
            " + document.querySelector('#changelist .results').getBoundingClientRect().left)"
        )
        if width > 1280:
            too_wide[path] = width
    assert too_wide == {}


@pytest.mark.django_db
def test_a_date_filter_past_the_last_date_is_an_invalid_filter_not_a_500(staff):
    """The date hierarchy steps to the next month or year: from December 9999, or from a year
    no date can hold, that overflowed (a 500); now the admin's "invalid filter" redirect."""
    client = Client()
    client.force_login(staff)
    hierarchies = [(model, model_admin.date_hierarchy) for model, model_admin in admin.site._registry.items()
                   if model_admin.date_hierarchy]
    assert len(hierarchies) >= 4
    for model, field in hierarchies:
        changelist = f"/admin/{model._meta.app_label}/{model._meta.model_name}/"
        for query in (f"{field}__year=9999&{field}__month=12", f"{field}__year=99999999999999999999"):
            response = client.get(f"{changelist}?{query}")
            assert response.status_code == 302 and response["Location"].endswith("?e=1"), (changelist, query)
        assert client.get(f"{changelist}?{field}__year=2026&{field}__month=12").status_code == 200
