"""Fixtures every app's tests share (loaded by the root conftest)."""

import itertools

import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

from accounts.models import User
from accounts.tokens import token_pair_issue

PASSWORD = "Moss-and-Granite-42"
_counter = itertools.count(1)


@pytest.fixture(autouse=True)
def _fresh_cache():
    """Throttle counters and cached pages never leak from one test into the next."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def api_client():
    return APIClient()


def make_user(**fields) -> User:
    n = next(_counter)
    fields.setdefault("email", f"user{n}@example.com")
    fields.setdefault("username", f"user{n}")
    password = fields.pop("password", PASSWORD)
    return User.objects.create_user(fields.pop("email"), password, **fields)


@pytest.fixture
def user(db):
    return make_user(full_name="Ada Moss")


@pytest.fixture
def other_user(db):
    return make_user(full_name="Other Person")


def bearer_client(user: User) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token_pair_issue(user=user).access}")
    return client


@pytest.fixture
def auth_client(user):
    return bearer_client(user)


@pytest.fixture(params=["redis", "polling"])
def layer_mode(request, settings):
    """Run the test twice: with the Redis channel layer pushing events, and with no channel layer
    (the consumers fall back to polling the database). Returns "redis" or "polling"."""
    if request.param == "redis":
        if not settings.CHANNEL_LAYERS:
            pytest.fail("The Redis mode needs REDIS_URL (run through mozukai_hub.testing.services).")
    else:
        settings.CHANNEL_LAYERS = {}
    return request.param
