import json

import pytest
from django.test import Client

from billing.models import CreditAccount, CreditEntry, IdempotentRequest, Payment, StripeEvent

from .stripe_server import FakeStripe, sign

SECRET_KEY = "sk_test_mozukai_51Hxyz"
WEBHOOK_SECRET = "whsec_test_mozukai"


@pytest.fixture
def dev_payments(settings):
    settings.STRIPE_SECRET_KEY = ""
    settings.BILLING_DEV_PAYMENTS = True
    return settings


@pytest.fixture
def no_dev_payments(settings):
    settings.STRIPE_SECRET_KEY = ""
    settings.BILLING_DEV_PAYMENTS = False
    return settings


@pytest.fixture
def stripe_server(settings):
    with FakeStripe(SECRET_KEY) as fake:
        settings.STRIPE_SECRET_KEY = SECRET_KEY
        settings.STRIPE_WEBHOOK_SECRET = WEBHOOK_SECRET
        settings.STRIPE_API_BASE = fake.base_url
        settings.BILLING_DEV_PAYMENTS = False
        yield fake


@pytest.fixture
def unthrottled(settings):
    rest = dict(settings.REST_FRAMEWORK)
    rest["DEFAULT_THROTTLE_RATES"] = {**rest["DEFAULT_THROTTLE_RATES"], "user": "1000000/min"}
    settings.REST_FRAMEWORK = rest


def deliver(event: dict, *, secret: str = WEBHOOK_SECRET, timestamp: int | None = None, client: Client | None = None,
            signature: str | None = None):
    payload = json.dumps(event)
    headers = {}
    sig = signature if signature is not None else sign(payload, secret, timestamp)
    if sig:
        headers["HTTP_STRIPE_SIGNATURE"] = sig
    return (client or Client()).post("/api/v1/stripe/webhook", data=payload, content_type="application/json", **headers)


def billing_counts() -> dict:
    return {
        "accounts": CreditAccount.objects.count(),
        "entries": CreditEntry.objects.count(),
        "payments": Payment.objects.count(),
        "events": StripeEvent.objects.count(),
        "idempotent": IdempotentRequest.objects.count(),
        "balances": sorted(CreditAccount.objects.values_list("balance", flat=True)),
    }
