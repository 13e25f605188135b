"""Of 20 concurrent refreshes of one refresh token, exactly one succeeds (PostgreSQL, real threads)."""

from concurrent.futures import ThreadPoolExecutor
from threading import Barrier

import pytest
from django.db import connection
from rest_framework.test import APIClient
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken

from accounts.tokens import token_pair_issue
from mozukai_hub.testing.fixtures import make_user

CONCURRENCY = 20


@pytest.mark.django_db(transaction=True)
def test_twenty_concurrent_refreshes_of_one_token_let_exactly_one_through():
    assert connection.vendor == "postgresql"
    user = make_user()
    refresh = token_pair_issue(user=user).refresh
    start = Barrier(CONCURRENCY)

    def attempt(_):
        client = APIClient()
        start.wait()
        try:
            response = client.post("/api/v1/auth/refresh", {"refresh_token": refresh}, format="json")
            return response.status_code
        finally:
            connection.close()

    with ThreadPoolExecutor(CONCURRENCY) as pool:
        statuses = list(pool.map(attempt, range(CONCURRENCY)))

    assert sorted(statuses) == [200] + [401] * (CONCURRENCY - 1)
    assert BlacklistedToken.objects.filter(token__jti__isnull=False).count() == 1
    # The original pair plus the one winner's new refresh token.
    assert OutstandingToken.objects.filter(user=user).count() == 2
