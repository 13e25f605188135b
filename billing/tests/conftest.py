"""Billing's own test helpers. The fake Stripe and the dev_payments / no_dev_payments /
stripe_server fixtures every app shares are in `mozukai_hub/testing/`."""

import pytest

from billing.models import CreditAccount, CreditEntry, IdempotentRequest, Payment, StripeEvent


@pytest.fixture
def prices():
    """Register prices for one test (`prices(film=5)`); the registry is restored after it."""
    from billing import pricing

    before = pricing.price_table()

    def register(**unit_credits):
        for item, credits in unit_credits.items():
            pricing.price_register(item, credits)

    yield register
    for item in pricing.price_table():
        pricing.price_unregister(item)
    for item, credits in before.items():
        pricing.price_register(item, credits)


@pytest.fixture
def unthrottled(settings):
    rest = dict(settings.REST_FRAMEWORK)
    rest["DEFAULT_THROTTLE_RATES"] = {**rest["DEFAULT_THROTTLE_RATES"], "user": "1000000/min"}
    settings.REST_FRAMEWORK = rest


def billing_counts() -> dict:
    return {
        "accounts": CreditAccount.objects.count(),
        "entries": CreditEntry.objects.count(),
        "payments": Payment.objects.count(),
        "events": StripeEvent.objects.count(),
        "idempotent": IdempotentRequest.objects.count(),
        "balances": sorted(CreditAccount.objects.values_list("balance", flat=True)),
    }
