"""django-q2 tasks: take ids, are idempotent, safe to run twice."""

from django.conf import settings
from django.core.mail import send_mail
from django.template.loader import render_to_string
from django.utils import timezone

from .models import Order, OrderStatus
from .services.orders import orders_expire_unpaid
from .services.payments import order_payment_refund as order_payment_refund_service


def orders_expire() -> int:
    """Scheduled (see migration 0002): cancel unpaid orders past their time, return stock."""
    return orders_expire_unpaid()


def order_payment_refund(order_id: str) -> str | None:
    """Refund the payment of a cancelled (or never confirmable) order; safe to repeat."""
    payment = order_payment_refund_service(order_id=order_id)
    return payment.status if payment else None


def order_confirmation_email_send(order_id: str) -> bool:
    """Send the confirmation e-mail at most once per success; a failed send is retried."""
    claimed = (
        # A detached order (its customer deleted the account) has nobody to write to.
        Order.objects.filter(pk=order_id, confirmation_sent_at__isnull=True, user__isnull=False)
        .exclude(status__in=[OrderStatus.PENDING, OrderStatus.CANCELLED])
        .update(confirmation_sent_at=timezone.now())
    )
    if not claimed:
        return False
    order = Order.objects.select_related("user").get(pk=order_id)
    context = {"order": order, "items": list(order.items.all()), "site_url": settings.SITE_URL.rstrip("/")}
    try:
        send_mail(
            subject=f"Your Mozukai order {order.short_id} is confirmed",
            message=render_to_string("catalog/email/order_confirmed.txt", context),
            html_message=render_to_string("catalog/email/order_confirmed.html", context),
            from_email=None,
            recipient_list=[order.user.email],
        )
    except Exception:
        # Release the claim so django-q2's retry sends it; the error still propagates.
        Order.objects.filter(pk=order_id).update(confirmation_sent_at=None)
        raise
    return True
