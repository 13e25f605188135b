"""Billing services: the contract `pipeline`, `catalog` and `studio` call.

Import from here (`from billing.services import credits_hold`); the modules behind it are
`ledger` (credits), `payments` (Stripe objects and their status machine), `webhooks`,
`idempotency` and `packs`.
"""

from .ledger import (
    InsufficientCredits,
    Movement,
    credit_account_for,
    credits_adjust,
    credits_consume,
    credits_grant,
    credits_hold,
    credits_purchase,
    credits_refund,
    credits_release,
    credits_settle,
    price_quote,
)
from .payments import (
    credit_checkout_create,
    credit_checkout_sync,
    payment_apply_checkout_session,
    payment_dev_complete,
    payment_intent_create,
    payment_refund,
    payment_transition,
)
from .webhooks import stripe_event_process, stripe_event_receive

__all__ = [
    "InsufficientCredits",
    "Movement",
    "credit_account_for",
    "credit_checkout_create",
    "credit_checkout_sync",
    "credits_adjust",
    "credits_consume",
    "credits_grant",
    "credits_hold",
    "credits_purchase",
    "credits_refund",
    "credits_release",
    "credits_settle",
    "payment_apply_checkout_session",
    "payment_dev_complete",
    "payment_intent_create",
    "payment_refund",
    "payment_transition",
    "price_quote",
    "stripe_event_process",
    "stripe_event_receive",
]
