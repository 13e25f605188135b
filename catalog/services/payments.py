"""Paying for orders through billing (the only place that talks to Stripe).

* `order_payment_start` creates (or finds again) the one PaymentIntent of an order; the amount
  comes from the order, never from the client.
* `OrderPaymentHandler` is registered for purpose "order" (CatalogConfig.ready). Billing calls
  it inside the transaction that changes the Payment's status, once per change. A payment that
  succeeds for an order that can no longer be confirmed (expired and its stock sold, cancelled)
  is refunded after commit, by a task, exactly once (billing refunds with one idempotency key
  per payment and refuses a second refund).
"""

import logging

from django.db import transaction
from django.utils import timezone
from django_q.tasks import async_task

from billing.models import Payment, PaymentPurpose, PaymentStatus
from billing.services import payment_dev_complete, payment_intent_create, payment_outcome_sync, payment_refund
from mozukai_hub.api.errors import Conflict

from ..models import CancelReason, Order, OrderStatus
from .orders import order_transition

logger = logging.getLogger(__name__)

PURPOSE = PaymentPurpose.ORDER


def order_payment_for(*, order: Order) -> Payment | None:
    return Payment.objects.filter(purpose=PURPOSE, reference=str(order.pk)).first()


def order_payment_start(*, order: Order) -> Payment:
    """The PaymentIntent for a pending order (the same one on every repeat)."""
    if order.status != OrderStatus.PENDING:
        raise Conflict(f"This order is {order.status}; there is nothing to pay.", code="order_not_payable",
                       extra={"status": order.status})
    if order.expires_at <= timezone.now():
        raise Conflict("This order was not paid in time; please order again.", code="order_expired")
    # Outside any transaction: billing calls Stripe here.
    payment = payment_intent_create(
        user=order.user, purpose=PURPOSE, reference=str(order.pk), amount_minor=order.amount_minor,
        currency=order.currency, description=f"Mozukai order {order.short_id}",
    )
    if payment.payment_intent_id and order.stripe_payment_intent_id != payment.payment_intent_id:
        Order.objects.filter(pk=order.pk).update(stripe_payment_intent_id=payment.payment_intent_id)
    return payment


def order_payment_confirm(*, payment: Payment) -> Payment:
    """Re-read the outcome: from Stripe through billing (the webhook stays the source of truth and
    applies the same transition), or, in dev payment mode, complete the payment through the same
    handler. Stripe unreachable: billing's `PaymentProviderError` (502)."""
    if payment.status in (PaymentStatus.SUCCEEDED, PaymentStatus.REFUNDED, PaymentStatus.CANCELED):
        return payment
    if payment.dev_mode:
        with transaction.atomic():
            # Under the order's row lock: a cancelled or expired-and-cancelled order is never
            # paid (the handler would refund it, but the customer must not be told it succeeded).
            order = Order.objects.select_for_update().get(pk=payment.reference)
            if order.status != OrderStatus.PENDING:
                raise Conflict(f"This order is {order.status}; there is nothing to pay.", code="order_not_payable",
                               extra={"status": order.status})
            payment_dev_complete(payment=payment)
        return Payment.objects.get(pk=payment.pk)
    return payment_outcome_sync(payment=payment)


def order_payment_refund(*, order_id: str) -> Payment | None:
    """Refund the order's payment if it succeeded; a repeat does nothing more."""
    payment = Payment.objects.filter(purpose=PURPOSE, reference=str(order_id)).first()
    if payment is None or payment.status != PaymentStatus.SUCCEEDED:
        return payment
    return payment_refund(payment=payment, reason=f"order {order_id} cancelled")


class OrderPaymentHandler:
    """Billing → catalog: what a payment's outcome means for its order."""

    def on_succeeded(self, payment: Payment) -> None:
        order = Order.objects.select_for_update().filter(pk=payment.reference).first()
        if order is None:
            raise LookupError(f"Payment {payment.pk} refers to a missing order {payment.reference}.")
        payable = (order.status == OrderStatus.PENDING and payment.amount_minor == order.amount_minor
                   and payment.currency == order.currency)
        if payable:
            order_transition(order_id=order.pk, to_status=OrderStatus.CONFIRMED, expected_from=[OrderStatus.PENDING],
                             paid=True)
            if payment.payment_intent_id and order.stripe_payment_intent_id != payment.payment_intent_id:
                Order.objects.filter(pk=order.pk).update(stripe_payment_intent_id=payment.payment_intent_id)
            return
        # Expired (its stock may be sold), cancelled or mismatched: never confirmed, refunded.
        logger.warning("payment %s for order %s (%s) cannot confirm it; refunding", payment.pk, order.pk, order.status)
        transaction.on_commit(lambda: async_task("catalog.tasks.order_payment_refund", str(order.pk)))

    def on_failed(self, payment: Payment) -> None:
        if payment.status == PaymentStatus.CANCELED:
            # A cancelled PaymentIntent can never be paid: give the stock back now.
            order_transition(order_id=payment.reference, to_status=OrderStatus.CANCELLED,
                             cancel_reason=CancelReason.PAYMENT_FAILED, expected_from=[OrderStatus.PENDING])
        else:
            # A failed attempt: the customer may try another card until the order expires.
            logger.info("payment %s for order %s failed; the order waits until it expires", payment.pk, payment.reference)

    def on_refunded(self, payment: Payment) -> None:
        # Refunded from Stripe's dashboard (or by us): a confirmed order is cancelled and its
        # stock returned; no second refund is asked for.
        order_transition(order_id=payment.reference, to_status=OrderStatus.CANCELLED, cancel_reason=CancelReason.STAFF,
                         expected_from=[OrderStatus.CONFIRMED], refund=False)
