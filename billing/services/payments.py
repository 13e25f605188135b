"""Payments: PaymentIntents and Checkout Sessions, their one status machine, refunds.

Stripe is called outside any transaction we own, always with an idempotency key derived
from our own ids, so a retry reaches the same Stripe object. Every status change goes
through `payment_transition`, under a row lock, and calls the purpose's handler there:
whatever path reports the outcome (webhook, success page, dev payment mode), the handler
runs once per change.
"""

from __future__ import annotations

import logging
import uuid

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.http import Http404
from django.urls import reverse
from django.utils import timezone

from mozukai_hub.api.errors import ApplicationError, Conflict

from .. import stripe_client
from ..models import PAYMENT_TRANSITIONS, Payment, PaymentKind, PaymentPurpose, PaymentStatus
from ..payments import payment_handler_for
from .ledger import client_key_digest

logger = logging.getLogger(__name__)


def _require_payments() -> None:
    if not stripe_client.dev_payments_enabled() and not settings.STRIPE_SECRET_KEY:
        raise stripe_client.PaymentsUnavailable("Payments are not configured (STRIPE_SECRET_KEY is not set).")


def _payment_claim(*, user, purpose: str, reference: str, kind: str, amount_minor: int, currency: str,
                   description: str, credits: int = 0) -> Payment:
    """The Payment for (purpose, reference): created once, found again on every repeat."""
    defaults = {"user": user, "kind": kind, "amount_minor": amount_minor, "currency": currency,
                "description": description[:500], "credits": credits, "dev_mode": stripe_client.dev_payments_enabled()}
    try:
        with transaction.atomic():
            payment, _ = Payment.objects.get_or_create(purpose=purpose, reference=reference, defaults=defaults)
    except IntegrityError:
        payment = Payment.objects.get(purpose=purpose, reference=reference)
    same_owner = (payment.user_id == (user.pk if user else None))
    if not same_owner or payment.kind != kind or payment.amount_minor != amount_minor or payment.currency != currency:
        raise Conflict(f"A different payment already exists for {purpose} {reference}.", code="payment_conflict")
    return payment


def _validate_money(*, amount_minor: int, currency: str) -> str:
    if isinstance(amount_minor, bool) or not isinstance(amount_minor, int) or amount_minor <= 0:
        raise ValidationError({"amount_minor": ["Enter a positive amount in minor units (cents)."]})
    currency = (currency or "").lower()
    if len(currency) != 3 or not currency.isalpha():
        raise ValidationError({"currency": ["Use a three-letter ISO 4217 currency code."]})
    return currency


def payment_intent_create(*, user, purpose: str, reference: str, amount_minor: int, currency: str,
                          description: str = "") -> Payment:
    """A PaymentIntent for `purpose` + `reference` (one per pair, whatever is retried).

    In dev payment mode the Payment is local and completes with `payment_dev_complete`.
    """
    if purpose not in PaymentPurpose.values:
        raise ValidationError({"purpose": [f"Unknown payment purpose {purpose!r}."]})
    if not reference:
        raise ValidationError({"reference": ["A payment needs a reference."]})
    currency = _validate_money(amount_minor=amount_minor, currency=currency)
    _require_payments()
    payment = _payment_claim(user=user, purpose=purpose, reference=reference, kind=PaymentKind.PAYMENT_INTENT,
                             amount_minor=amount_minor, currency=currency, description=description)
    if payment.stripe_id:
        return payment
    if payment.dev_mode:
        fake = f"dev_pi_{payment.pk.hex}"
        Payment.objects.filter(pk=payment.pk, stripe_id__isnull=True).update(
            stripe_id=fake, payment_intent_id=fake, client_secret=f"{fake}_secret_dev")
        payment.refresh_from_db()
        return payment
    metadata = {"payment_id": str(payment.pk), "purpose": purpose, "reference": reference}
    params = {"amount": amount_minor, "currency": currency, "metadata": metadata,
              "automatic_payment_methods": {"enabled": True}}
    if description:
        params["description"] = description[:500]
    intent = stripe_client.payment_intent_create(params=params, idempotency_key=f"payment-intent:{purpose}:{reference}")
    Payment.objects.filter(pk=payment.pk, stripe_id__isnull=True).update(
        stripe_id=intent["id"], payment_intent_id=intent["id"], client_secret=intent.get("client_secret") or "")
    payment.refresh_from_db()
    return payment


def credit_checkout_create(*, user, pack: int, idempotency_key: str | None = None) -> Payment:
    """A Checkout Session (or, in dev payment mode, a local checkout page) for a credit pack."""
    packs = settings.CREDIT_PACKS
    if pack not in packs:
        raise ValidationError({"pack": [f"Choose a pack of {', '.join(str(p) for p in sorted(packs))} credits."]})
    price, currency = packs[pack], settings.CREDIT_CURRENCY.lower()
    _require_payments()
    # The client's key is hashed: a 255-character key plus our prefix must still fit `reference`.
    reference = (f"checkout:{user.pk}:{client_key_digest(idempotency_key)}" if idempotency_key
                 else f"checkout:{uuid.uuid4()}")
    payment = _payment_claim(user=user, purpose=PaymentPurpose.CREDIT_PACK, reference=reference,
                             kind=PaymentKind.CHECKOUT_SESSION, amount_minor=price, currency=currency,
                             description=f"{pack} credits", credits=pack)
    if payment.credits != pack:
        raise Conflict("A different checkout already exists for this idempotency key.", code="payment_conflict")
    if payment.stripe_id:
        return payment
    if payment.dev_mode:
        Payment.objects.filter(pk=payment.pk, stripe_id__isnull=True).update(
            stripe_id=f"dev_cs_{payment.pk.hex}", checkout_url=reverse("billing:dev-checkout", args=[payment.pk]))
        payment.refresh_from_db()
        return payment
    site = settings.SITE_URL.rstrip("/")
    metadata = {"payment_id": str(payment.pk), "purpose": payment.purpose, "reference": reference}
    params = {
        "mode": "payment",
        "line_items": [{"quantity": 1, "price_data": {"currency": currency, "unit_amount": price,
                                                      "product_data": {"name": f"{pack} Mozukai credits"}}}],
        "success_url": f"{site}{reverse('billing:success')}?session_id={{CHECKOUT_SESSION_ID}}",
        "cancel_url": f"{site}{reverse('billing:cancel')}",
        "client_reference_id": str(payment.pk),
        "customer_email": user.email,
        "metadata": metadata,
        "payment_intent_data": {"metadata": metadata},
    }
    session = stripe_client.checkout_session_create(params=params, idempotency_key=f"checkout-session:{payment.pk}")
    Payment.objects.filter(pk=payment.pk, stripe_id__isnull=True).update(
        stripe_id=session["id"], checkout_url=session.get("url") or "")
    payment.refresh_from_db()
    return payment


# --- Status changes ------------------------------------------------------------------------


def payment_transition(*, payment_id, to_status: str, payment_intent_id: str = "",
                       amount_refunded_minor: int | None = None, refund_id: str = "") -> Payment:
    """Move a payment to `to_status` if the table allows it, and run its handler once.

    Anything the table does not allow (a late failure after a success, a repeat) changes no
    status and calls no handler, which makes every caller safe to repeat and to reorder.
    """
    with transaction.atomic():
        payment = Payment.objects.select_for_update().get(pk=payment_id)
        changed = []
        if payment_intent_id and not payment.payment_intent_id:
            payment.payment_intent_id = payment_intent_id
            changed.append("payment_intent_id")
        if refund_id and not payment.refund_id:
            payment.refund_id = refund_id
            changed.append("refund_id")
        if amount_refunded_minor is not None and amount_refunded_minor > payment.amount_refunded_minor:
            payment.amount_refunded_minor = amount_refunded_minor
            changed.append("amount_refunded_minor")
        moves = to_status != payment.status and to_status in PAYMENT_TRANSITIONS[payment.status]
        if moves:
            payment.status = to_status
            changed.append("status")
            if to_status == PaymentStatus.SUCCEEDED:
                payment.succeeded_at = timezone.now()
                changed.append("succeeded_at")
        if changed:
            payment.save(update_fields=[*changed, "updated_at"])
        if moves:
            handler = payment_handler_for(payment.purpose)
            if handler is None:
                # Fail loud: the event is marked failed and retried once the handler exists.
                raise ApplicationError(f"No payment handler is registered for {payment.purpose!r}.",
                                       code="payment_handler_missing", status_code=500)
            if to_status == PaymentStatus.SUCCEEDED:
                handler.on_succeeded(payment)
            elif to_status in (PaymentStatus.FAILED, PaymentStatus.CANCELED):
                handler.on_failed(payment)
            elif to_status == PaymentStatus.REFUNDED:
                handler.on_refunded(payment)
    return payment


def payment_for_checkout_session(session: dict) -> Payment | None:
    """Ours by Stripe id; or, if Stripe's answer to the create call was lost, by the payment id
    we put in `client_reference_id` (the session id is then recorded)."""
    session_id = session.get("id") or ""
    payment = Payment.objects.filter(stripe_id=session_id).only("pk").first() if session_id else None
    if payment is not None or not session_id:
        return payment
    try:
        payment_id = uuid.UUID(str(session.get("client_reference_id") or (session.get("metadata") or {}).get("payment_id")))
    except ValueError:
        return None
    if Payment.objects.filter(pk=payment_id, kind=PaymentKind.CHECKOUT_SESSION, stripe_id__isnull=True).update(
            stripe_id=session_id, checkout_url=session.get("url") or ""):
        return Payment.objects.only("pk").get(pk=payment_id)
    return None


def payment_apply_checkout_session(*, session: dict) -> Payment | None:
    """Fulfil from a Checkout Session object: used by the webhook AND the success page."""
    payment = payment_for_checkout_session(session)
    if payment is None:
        return None
    intent = session.get("payment_intent") or ""
    if isinstance(intent, dict):
        intent = intent.get("id", "")
    if session.get("status") == "complete" and session.get("payment_status") in ("paid", "no_payment_required"):
        to_status = PaymentStatus.SUCCEEDED
    elif session.get("status") == "complete":
        to_status = PaymentStatus.PROCESSING  # an asynchronous method (bank debit) is under way
    elif session.get("status") == "expired":
        to_status = PaymentStatus.CANCELED
    else:
        return Payment.objects.get(pk=payment.pk)
    return payment_transition(payment_id=payment.pk, to_status=to_status, payment_intent_id=intent)


def credit_checkout_sync(*, user, session_id: str) -> Payment:
    """The success page: ask Stripe how the session ended and fulfil through the same path."""
    payment = Payment.objects.filter(stripe_id=session_id, user=user, purpose=PaymentPurpose.CREDIT_PACK).first()
    if payment is None:
        raise Http404("No such checkout.")
    if payment.dev_mode:
        return payment
    session = stripe_client.checkout_session_retrieve(session_id=session_id)
    return payment_apply_checkout_session(session=session) or payment


# Stripe PaymentIntent status → our Payment status (https://docs.stripe.com/payments/paymentintents/lifecycle).
# The others (requires_payment_method, requires_confirmation, requires_action, requires_capture)
# are not an outcome yet, except requires_payment_method with a last_payment_error: an attempt failed.
INTENT_STATUS = {
    "succeeded": PaymentStatus.SUCCEEDED,
    "processing": PaymentStatus.PROCESSING,
    "canceled": PaymentStatus.CANCELED,
}


def payment_intent_outcome(intent: dict) -> str | None:
    """Our status for a Stripe PaymentIntent object, or None while it has no outcome yet."""
    status = intent.get("status")
    if status == "requires_payment_method" and intent.get("last_payment_error"):
        return PaymentStatus.FAILED
    return INTENT_STATUS.get(status)


def payment_outcome_sync(*, payment: Payment) -> Payment:
    """Ask Stripe how `payment` stands now and apply it through `payment_transition` (the webhook
    stays the source of truth and applies the same transition; whichever comes first wins).

    A payment that has ended, or a dev-mode one (it completes with `payment_dev_complete`), is
    returned as it is. Stripe unreachable or refusing: `PaymentProviderError` (502).
    """
    payment = Payment.objects.get(pk=payment.pk)
    if payment.status in (PaymentStatus.SUCCEEDED, PaymentStatus.REFUNDED, PaymentStatus.CANCELED) or payment.dev_mode:
        return payment
    if payment.kind == PaymentKind.CHECKOUT_SESSION:
        if not payment.stripe_id:
            raise Conflict("This payment has not been started with Stripe yet.", code="payment_not_started")
        session = stripe_client.checkout_session_retrieve(session_id=payment.stripe_id)
        return payment_apply_checkout_session(session=session) or payment
    if not payment.payment_intent_id:
        raise Conflict("This payment has not been started with Stripe yet.", code="payment_not_started")
    intent = stripe_client.payment_intent_retrieve(payment_intent_id=payment.payment_intent_id)
    to_status = payment_intent_outcome(intent)
    if to_status is None:
        return payment
    return payment_transition(payment_id=payment.pk, to_status=to_status, payment_intent_id=intent.get("id", ""))


def payment_dev_complete(*, payment: Payment) -> Payment:
    """Dev payment mode: the payment succeeds through the same path as Stripe's webhook."""
    if not payment.dev_mode:
        raise Conflict("Only a dev-mode payment can be completed locally.", code="not_dev_payment")
    if not stripe_client.dev_payments_enabled():
        raise stripe_client.PaymentsUnavailable("Dev payment mode is off.")
    return payment_transition(payment_id=payment.pk, to_status=PaymentStatus.SUCCEEDED, payment_intent_id=payment.stripe_id)


def payment_refund(*, payment: Payment, reason: str = "") -> Payment:
    """Refund the whole payment, exactly once (Stripe sees one idempotency key per payment)."""
    payment = Payment.objects.get(pk=payment.pk)
    if payment.status == PaymentStatus.REFUNDED:
        return payment
    if payment.status != PaymentStatus.SUCCEEDED:
        raise Conflict(f"Only a succeeded payment can be refunded (this one is {payment.status}).", code="not_refundable")
    if payment.dev_mode:
        return payment_transition(payment_id=payment.pk, to_status=PaymentStatus.REFUNDED, refund_id=f"dev_re_{payment.pk.hex}",
                                  amount_refunded_minor=payment.amount_minor)
    intent = payment.payment_intent_id
    if not intent and payment.kind == PaymentKind.CHECKOUT_SESSION:
        intent = stripe_client.checkout_session_retrieve(session_id=payment.stripe_id).get("payment_intent") or ""
        if isinstance(intent, dict):
            intent = intent.get("id", "")
    if not intent:
        raise Conflict("This payment has no PaymentIntent to refund yet.", code="not_refundable")
    refund = stripe_client.refund_create(
        params={"payment_intent": intent, "metadata": {"payment_id": str(payment.pk), "reason": reason[:500]}},
        idempotency_key=f"refund:{payment.pk}",
    )
    if refund.get("status") in ("failed", "canceled"):
        raise stripe_client.PaymentProviderError(f"Stripe refused the refund ({refund.get('failure_reason') or refund.get('status')}).")
    logger.info("payment %s refunded (%s): %s", payment.pk, refund.get("id"), reason)
    return payment_transition(payment_id=payment.pk, to_status=PaymentStatus.REFUNDED, refund_id=refund.get("id", ""),
                              payment_intent_id=intent, amount_refunded_minor=refund.get("amount") or payment.amount_minor)
