"""The only module that imports `stripe`.

Every call pins the API version and every create passes an idempotency key, so a retried
request (ours or the library's own network retries) never makes a second object. The
client is built per call from settings, so `STRIPE_API_BASE` (tests: a local server that
answers as Stripe documents) and key changes apply at once.
"""

from __future__ import annotations

import json
from typing import Any

import stripe
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from mozukai_hub.api.errors import ApplicationError

# The API version this code was written against (stripe-python 16.1.0's own).
STRIPE_API_VERSION = "2026-10-28.endive"


class PaymentsUnavailable(ApplicationError):
    status_code = 503
    code = "payments_unavailable"


class PaymentProviderError(ApplicationError):
    status_code = 502
    code = "payment_provider_error"


class WebhookSignatureInvalid(ApplicationError):
    status_code = 400
    code = "invalid_signature"


def dev_payments_enabled() -> bool:
    return bool(settings.BILLING_DEV_PAYMENTS) and not settings.STRIPE_SECRET_KEY


def _client() -> stripe.StripeClient:
    if not settings.STRIPE_SECRET_KEY:
        raise PaymentsUnavailable("Payments are not configured (STRIPE_SECRET_KEY is not set).")
    return stripe.StripeClient(
        settings.STRIPE_SECRET_KEY,
        stripe_version=STRIPE_API_VERSION,
        base_addresses={"api": settings.STRIPE_API_BASE},
        max_network_retries=2,
    )


def _call(fn, *args, **kwargs) -> dict[str, Any]:
    try:
        return fn(*args, **kwargs).to_dict()
    except stripe.StripeError as exc:
        message = getattr(exc, "user_message", None) or str(exc) or exc.__class__.__name__
        raise PaymentProviderError(f"Stripe: {message}") from exc


def checkout_session_create(*, params: dict[str, Any], idempotency_key: str) -> dict[str, Any]:
    client = _client()
    return _call(client.v1.checkout.sessions.create, params, {"idempotency_key": idempotency_key})


def checkout_session_retrieve(*, session_id: str) -> dict[str, Any]:
    client = _client()
    return _call(client.v1.checkout.sessions.retrieve, session_id)


def payment_intent_create(*, params: dict[str, Any], idempotency_key: str) -> dict[str, Any]:
    client = _client()
    return _call(client.v1.payment_intents.create, params, {"idempotency_key": idempotency_key})


def payment_intent_retrieve(*, payment_intent_id: str) -> dict[str, Any]:
    client = _client()
    return _call(client.v1.payment_intents.retrieve, payment_intent_id)


def refund_create(*, params: dict[str, Any], idempotency_key: str) -> dict[str, Any]:
    client = _client()
    return _call(client.v1.refunds.create, params, {"idempotency_key": idempotency_key})


def webhook_tolerance() -> int:
    """Seconds a signed webhook stays acceptable. stripe-python skips the age check for a
    tolerance of 0 (and refuses everything below), so anything but a positive number is a
    configuration error, raised on every delivery (Stripe redelivers once it is fixed)."""
    tolerance = settings.STRIPE_WEBHOOK_TOLERANCE
    if isinstance(tolerance, bool) or not isinstance(tolerance, int) or tolerance <= 0:
        raise ImproperlyConfigured(
            f"STRIPE_WEBHOOK_TOLERANCE must be a positive number of seconds (got {tolerance!r}); "
            "0 would accept replayed webhooks of any age.")
    return tolerance


def webhook_event_verify(*, payload: bytes, signature: str | None) -> dict[str, Any]:
    """The event, if `signature` is Stripe's for `payload` with our endpoint secret and recent.

    There is no unsigned path: without a configured secret every delivery is refused.
    """
    secret = settings.STRIPE_WEBHOOK_SECRET
    if not secret:
        raise WebhookSignatureInvalid("Webhooks are not configured (STRIPE_WEBHOOK_SECRET is not set).")
    if not signature:
        raise WebhookSignatureInvalid("Missing Stripe-Signature header.")
    tolerance = webhook_tolerance()
    try:
        stripe.WebhookSignature.verify_header(payload.decode("utf-8"), signature, secret, tolerance)
    except (stripe.SignatureVerificationError, UnicodeDecodeError) as exc:
        raise WebhookSignatureInvalid(f"Invalid signature: {exc}") from exc
    try:
        event = json.loads(payload)
    except ValueError as exc:
        raise WebhookSignatureInvalid("The payload is not JSON.") from exc
    if not isinstance(event, dict) or not event.get("id") or not event.get("type"):
        raise WebhookSignatureInvalid("The payload is not a Stripe event.")
    return event
