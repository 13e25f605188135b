"""Payment fixtures every app's tests share (registered by the root conftest).

`dev_payments`: no Stripe key and the dev payment mode on (what `make run` gives);
`no_dev_payments`: neither Stripe nor the dev mode (checkout is a 503);
`stripe_server`: the fake Stripe of `fake_stripe.py`, with the settings pointing at it.
"""

import pytest

from .fake_stripe import SECRET_KEY, WEBHOOK_SECRET, FakeStripe


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


def dev_pay_order(client, order_id) -> str:
    """Pay an order through the API in dev payment mode (create the intent, confirm it); the
    payment's id."""
    intent = client.post("/api/v1/payments/create-intent", {"order_id": order_id}, format="json").json()
    confirmed = client.post("/api/v1/payments/confirm", {"payment_id": intent["id"]}, format="json").json()
    assert confirmed["status"] == "succeeded", confirmed
    return intent["id"]
