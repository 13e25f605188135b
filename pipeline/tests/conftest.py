import uuid

import pytest

from billing.services import credit_account_for, credits_grant, credits_spendable

# REMOTE_ADDR of Django's test Client and DRF's APIClient, and the peer address a local daphne sees.
TEST_CLIENT_IP = "127.0.0.1"


def grant(user, amount: int = 10) -> None:
    credits_grant(user=user, amount=amount, reason="test", idempotency_key=f"test-{uuid.uuid4()}")


def balance(user) -> int:
    """The user's own credits (not the client IP's free ones)."""
    return credit_account_for(user=user).balance


def free_credits() -> int:
    """The free credits left for the test clients' address (granted on first sight)."""
    return credit_account_for(client_ip=TEST_CLIENT_IP).balance


def spendable(user) -> int:
    """What `user` can spend from the test clients' address: its free credits first, then its own."""
    return credits_spendable(user=user, client_ip=TEST_CLIENT_IP)


@pytest.fixture(autouse=True)
def _private_media(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")


@pytest.fixture
def funded_user(user):
    grant(user, 10)
    return user
