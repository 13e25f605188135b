"""Stripe webhooks: verified, stored once per event id, applied once, retried after failure."""

from __future__ import annotations

import logging
import uuid

from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone

from mozukai_hub.api.errors import ApplicationError

from .. import stripe_client
from ..models import Payment, PaymentStatus, StripeEvent, StripeEventStatus
from .payments import payment_for_checkout_session, payment_apply_checkout_session, payment_transition

logger = logging.getLogger(__name__)


class WebhookProcessingFailed(ApplicationError):
    status_code = 500  # Stripe redelivers on any non-2xx answer
    code = "webhook_failed"


def stripe_event_receive(*, payload: bytes, signature: str | None) -> StripeEvent:
    """Verify, store (once) and process a delivery. Nothing touches the database before the
    signature is proven."""
    event = stripe_client.webhook_event_verify(payload=payload, signature=signature)
    try:
        with transaction.atomic():
            record, _ = StripeEvent.objects.get_or_create(
                event_id=event["id"], defaults={"type": event["type"], "payload": event})
    except IntegrityError:
        record = StripeEvent.objects.get(event_id=event["id"])
    if record.status == StripeEventStatus.PROCESSED:
        return record
    return stripe_event_process(event_id=record.event_id)


def stripe_event_process(*, event_id: str) -> StripeEvent:
    """Apply a stored event in one transaction; a processed event is not applied again."""
    try:
        with transaction.atomic():
            record = StripeEvent.objects.select_for_update().get(event_id=event_id)
            if record.status == StripeEventStatus.PROCESSED:
                return record
            _dispatch(record.type, (record.payload.get("data") or {}).get("object") or {})
            record.status = StripeEventStatus.PROCESSED
            record.attempts = F("attempts") + 1
            record.error = ""
            record.processed_at = timezone.now()
            record.save(update_fields=["status", "attempts", "error", "processed_at"])
    except Exception as exc:
        # Recorded (status failed, the error) and re-raised: the delivery answers 500 and
        # Stripe delivers it again, which retries it; staff can also retry from the admin.
        logger.exception("Stripe event %s failed", event_id)
        StripeEvent.objects.filter(event_id=event_id).exclude(status=StripeEventStatus.PROCESSED).update(
            status=StripeEventStatus.FAILED, attempts=F("attempts") + 1, error=f"{exc.__class__.__name__}: {exc}"[:4000])
        raise WebhookProcessingFailed(f"Event {event_id} could not be processed; it will be retried.") from exc
    record.refresh_from_db()
    return record


def _payment_for_intent(intent: dict) -> Payment | None:
    intent_id = intent.get("id") or ""
    payment_id = (intent.get("metadata") or {}).get("payment_id")
    query = Q(stripe_id=intent_id) | Q(payment_intent_id=intent_id)
    if payment_id:
        try:
            query |= Q(pk=uuid.UUID(str(payment_id)))
        except ValueError:
            pass  # not one of ours
    return Payment.objects.filter(query).only("pk").first() if intent_id else None


_INTENT_STATUS = {
    "payment_intent.succeeded": PaymentStatus.SUCCEEDED,
    "payment_intent.payment_failed": PaymentStatus.FAILED,
    "payment_intent.canceled": PaymentStatus.CANCELED,
    "payment_intent.processing": PaymentStatus.PROCESSING,
}


def _dispatch(event_type: str, obj: dict) -> None:
    if event_type == "checkout.session.completed":
        payment_apply_checkout_session(session=obj)
    elif event_type in ("checkout.session.async_payment_succeeded", "checkout.session.async_payment_failed",
                        "checkout.session.expired"):
        payment = payment_for_checkout_session(obj)
        if payment is not None:
            to_status = {"checkout.session.async_payment_succeeded": PaymentStatus.SUCCEEDED,
                         "checkout.session.async_payment_failed": PaymentStatus.FAILED,
                         "checkout.session.expired": PaymentStatus.CANCELED}[event_type]
            intent = obj.get("payment_intent") or ""
            payment_transition(payment_id=payment.pk, to_status=to_status,
                               payment_intent_id=intent if isinstance(intent, str) else intent.get("id", ""))
    elif event_type in _INTENT_STATUS:
        payment = _payment_for_intent(obj)
        if payment is not None:
            payment_transition(payment_id=payment.pk, to_status=_INTENT_STATUS[event_type], payment_intent_id=obj.get("id", ""))
    elif event_type == "charge.refunded":
        intent = obj.get("payment_intent") or ""
        intent = intent if isinstance(intent, str) else intent.get("id", "")
        payment = _payment_for_intent({"id": intent, "metadata": obj.get("metadata") or {}})
        if payment is None:
            return
        refunded = obj.get("amount_refunded") or 0
        if obj.get("refunded"):
            # A refund proves the charge succeeded, even if that event has not arrived yet.
            payment_transition(payment_id=payment.pk, to_status=PaymentStatus.SUCCEEDED, payment_intent_id=intent)
            payment_transition(payment_id=payment.pk, to_status=PaymentStatus.REFUNDED, amount_refunded_minor=refunded)
        else:  # a partial refund: recorded, the credits stay
            payment_transition(payment_id=payment.pk, to_status=PaymentStatus.SUCCEEDED, payment_intent_id=intent,
                               amount_refunded_minor=refunded)
    # Any other type is acknowledged and stored; it changes nothing here.
