"""Billing services: the contract `pipeline`, `catalog` and `studio` call.

Import from here (`from billing.services import credits_hold`); the modules behind it are
`ledger` (credits, and `credits_spendable`: the one rule of what a caller can spend),
`payments` (Stripe objects, their status machine, `payment_outcome_sync`, `payment_dev_complete`),
`webhooks`, `idempotency` and `packs`. Prices come from the registry in `billing.pricing`.
"""

from ..stripe_client import PaymentProviderError, PaymentsUnavailable
from .ledger import (
    CreditPools,
    InsufficientCredits,
    Movement,
    credit_account_for,
    credit_pools,
    credits_adjust,
    credits_consume,
    credits_grant,
    credits_hold,
    credits_purchase,
    credits_refund,
    credits_release,
    credits_settle,
    credits_spendable,
    price_quote,
    spend_plan,
)
from .payments import (
    credit_checkout_create,
    credit_checkout_sync,
    payment_apply_checkout_session,
    payment_dev_complete,
    payment_intent_create,
    payment_intent_outcome,
    payment_outcome_sync,
    payment_refund,
    payment_transition,
)
from .webhooks import stripe_event_process, stripe_event_receive

__all__ = [
    "CreditPools",
    "InsufficientCredits",
    "Movement",
    "PaymentProviderError",
    "PaymentsUnavailable",
    "credit_account_for",
    "credit_pools",
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
    "credits_spendable",
    "payment_apply_checkout_session",
    "payment_dev_complete",
    "payment_intent_create",
    "payment_intent_outcome",
    "payment_outcome_sync",
    "payment_refund",
    "payment_transition",
    "price_quote",
    "spend_plan",
    "stripe_event_process",
    "stripe_event_receive",
]
