"""Orders and stock.

* `order_place` prices every line from the catalog (never from the client), snapshots the
  prices and reserves stock by a conditional decrement, taking the product row locks in
  ascending id order so two orders for the same products can never deadlock.
* `order_transition` is the one way an order changes status: it locks the order row and
  checks TRANSITIONS. Leaving a stock-holding state gives the stock back exactly once
  (`stock_reserved` flips under the same lock); shipping takes the held units off the product's
  `stock_reserved`.
* `orders_detach_user` keeps a deleted customer's orders for bookkeeping, without the person.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from uuid import UUID

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.db.models.functions import Greatest
from django.utils import timezone
from django_q.tasks import async_task

from mozukai_hub.api.errors import ApplicationError, Conflict

from ..cache import product_list_cache_invalidate
from ..models import CancelReason, Order, OrderItem, OrderStatus, Product

S = OrderStatus
TRANSITIONS: dict[str, frozenset[str]] = {
    S.PENDING: frozenset({S.CONFIRMED, S.CANCELLED}),
    S.CONFIRMED: frozenset({S.SHIPPED, S.CANCELLED}),
    S.SHIPPED: frozenset({S.DELIVERED}),
    S.DELIVERED: frozenset(),
    S.CANCELLED: frozenset(),
}
TIMESTAMP_FIELD = {S.CONFIRMED: "confirmed_at", S.SHIPPED: "shipped_at", S.DELIVERED: "delivered_at", S.CANCELLED: "cancelled_at"}


# Statuses only a succeeded payment leads to (OrderPaymentHandler passes `paid=True`): staff
# confirming an unpaid order would have a later payment refund and cancel it.
PAYMENT_ONLY: frozenset[str] = frozenset({S.CONFIRMED})


def allowed_transitions(status: str, *, paid: bool = False) -> list[str]:
    return sorted(to for to in TRANSITIONS[status] if paid or to not in PAYMENT_ONLY)


@dataclass(frozen=True)
class OrderLine:
    product_id: int
    quantity: int


def _enqueue_on_commit(func: str, *args) -> None:
    transaction.on_commit(lambda: async_task(func, *args))


def _validate_lines(lines: Iterable[OrderLine]) -> list[OrderLine]:
    lines = list(lines)
    if not lines:
        raise ApplicationError("An order needs at least one item.", code="empty_order")
    seen: set[int] = set()
    limit = settings.SHOP_MAX_QUANTITY_PER_LINE
    for line in lines:
        if line.product_id in seen:
            raise ApplicationError(f"Product {line.product_id} appears twice; send one line per product.", code="duplicate_product")
        seen.add(line.product_id)
        if not 1 <= line.quantity <= limit:
            raise ApplicationError(f"Quantity must be between 1 and {limit}.", code="invalid_quantity")
    return sorted(lines, key=lambda line: line.product_id)


def order_place(*, user, lines: Iterable[OrderLine], shipping_name: str = "", shipping_address: str = "") -> Order:
    """Create a pending order and reserve its stock; all or nothing."""
    lines = _validate_lines(lines)
    with transaction.atomic():
        ids = [line.product_id for line in lines]
        # Row locks in ascending id order: the fixed lock order that rules out deadlocks.
        products = {p.pk: p for p in Product.objects.select_for_update().filter(pk__in=ids).order_by("pk")}
        currencies = set()
        for line in lines:
            product = products.get(line.product_id)
            if product is None or not product.is_active:
                raise ApplicationError(f"Product {line.product_id} is not for sale.", code="product_unavailable",
                                       extra={"product_id": line.product_id})
            currencies.add(product.currency)
        if len(currencies) > 1:
            raise ApplicationError("All items of one order must be priced in the same currency.", code="mixed_currency")

        now = timezone.now()
        for line in lines:
            # Conditional decrement: never below zero, whatever else runs concurrently.
            reserved = Product.objects.filter(pk=line.product_id, is_active=True, stock_quantity__gte=line.quantity).update(
                stock_quantity=F("stock_quantity") - line.quantity,
                stock_reserved=F("stock_reserved") + line.quantity,
                updated_at=now,
            )
            if not reserved:
                product = products[line.product_id]
                raise Conflict(
                    f"Only {product.stock_quantity} of “{product.name}” left in stock.",
                    code="out_of_stock",
                    extra={"product_id": product.pk, "available": product.stock_quantity},
                )

        total = sum((products[line.product_id].price * line.quantity for line in lines), Decimal("0"))
        order = Order.objects.create(
            user=user,
            currency=currencies.pop(),
            total_amount=total,
            expires_at=now + timedelta(minutes=settings.SHOP_ORDER_EXPIRY_MINUTES),
            shipping_name=shipping_name.strip(),
            shipping_address=shipping_address.strip(),
        )
        OrderItem.objects.bulk_create(
            OrderItem(
                order=order,
                product_id=line.product_id,
                product_name=products[line.product_id].name,
                unit_price=products[line.product_id].price,
                quantity=line.quantity,
                line_total=products[line.product_id].price * line.quantity,
            )
            for line in lines
        )
        product_list_cache_invalidate()
    return order


def _stock_return(order: Order) -> None:
    """Give the order's stock back; the caller holds the order row lock."""
    if not order.stock_reserved:
        return
    for item in order.items.order_by("product_id"):
        Product.objects.filter(pk=item.product_id).update(
            stock_quantity=F("stock_quantity") + item.quantity,
            # Greatest: an order placed before reservations were counted holds none.
            stock_reserved=Greatest(F("stock_reserved") - item.quantity, 0),
        )
    order.stock_reserved = False
    product_list_cache_invalidate()


def _stock_ship(order: Order) -> None:
    """The order's units leave the shelf: they are no longer held, nor on hand."""
    if not order.stock_reserved:
        return
    for item in order.items.order_by("product_id"):
        Product.objects.filter(pk=item.product_id).update(stock_reserved=Greatest(F("stock_reserved") - item.quantity, 0))
    product_list_cache_invalidate()


def order_transition(
    *,
    order_id: UUID,
    to_status: str,
    cancel_reason: str = CancelReason.STAFF,
    expected_from: Iterable[str] | None = None,
    refund: bool = True,
    paid: bool = False,
    required_from: Iterable[str] | None = None,
) -> Order:
    """Move an order to `to_status` under its row lock.

    Raises Conflict (409, with `allowed`) when TRANSITIONS forbids it. With `expected_from`,
    an order found in another status is returned unchanged instead (for tasks and handlers
    that race with people: the expiry task must not cancel an order paid a moment ago).
    Cancelling a confirmed (paid) order refunds its payment after commit unless `refund` is
    False (the payment handler, when Stripe reports a refund made elsewhere). Only the payment
    handler passes `paid=True`, the one way to reach a PAYMENT_ONLY status. With
    `required_from`, an order found in another status raises Conflict (409, `allowed` empty):
    for people acting on a copy they read earlier.
    """
    if to_status not in TRANSITIONS:
        raise ApplicationError(f"Unknown status “{to_status}”.", code="invalid_status",
                               extra={"allowed_statuses": list(TRANSITIONS)})
    with transaction.atomic():
        order = Order.objects.select_for_update().get(pk=order_id)
        if expected_from is not None and order.status not in set(expected_from):
            return order
        if required_from is not None and order.status not in set(required_from):
            raise Conflict(f"This order is {order.status} now and can no longer be {to_status} here; "
                           f"contact us for a paid order.",
                           code="invalid_transition", extra={"status": order.status, "allowed": []})
        allowed = allowed_transitions(order.status, paid=paid)
        if to_status not in allowed:
            reason = " (only its payment confirms it)" if to_status in TRANSITIONS[order.status] else ""
            raise Conflict(
                f"An order that is {order.status} cannot become {to_status}{reason}.",
                code="invalid_transition",
                extra={"status": order.status, "allowed": allowed},
            )
        previous = order.status
        order.status = to_status
        setattr(order, TIMESTAMP_FIELD[to_status], timezone.now())
        fields = ["status", TIMESTAMP_FIELD[to_status], "updated_at"]
        if to_status == S.CANCELLED:
            order.cancel_reason = cancel_reason
            _stock_return(order)
            fields += ["cancel_reason", "stock_reserved"]
            if previous == S.CONFIRMED and refund:
                # The customer paid: refund after commit (a network call never runs in here).
                _enqueue_on_commit("catalog.tasks.order_payment_refund", str(order.pk))
        if to_status == S.SHIPPED:
            _stock_ship(order)
        order.save(update_fields=fields)
        if to_status == S.CONFIRMED:
            _enqueue_on_commit("catalog.tasks.order_confirmation_email_send", str(order.pk))
    return order


def order_cancel_by_customer(*, order: Order) -> Order:
    """Customers may cancel an order they have not paid for yet.

    The status is checked under the order's row lock (`required_from`): an order paid or
    expired since the customer's copy was read is refused with 409, never reported cancelled."""
    return order_transition(order_id=order.pk, to_status=S.CANCELLED, cancel_reason=CancelReason.CUSTOMER,
                            required_from=[S.PENDING])


def orders_expire_unpaid(*, now=None) -> int:
    """Cancel pending orders past `expires_at` and return their stock. Returns how many."""
    now = now or timezone.now()
    expired = 0
    due = list(Order.objects.filter(status=S.PENDING, expires_at__lt=now).values_list("pk", flat=True)[:500])
    for order_id in due:
        order = order_transition(order_id=order_id, to_status=S.CANCELLED, cancel_reason=CancelReason.EXPIRED,
                                 expected_from=[S.PENDING])
        expired += order.status == S.CANCELLED and order.cancel_reason == CancelReason.EXPIRED
    return expired


def orders_detach_user(*, user) -> int:
    """Account deletion: the customer's orders stay (bookkeeping) without the person.

    Orders not shipped yet are cancelled first: pending ones give their stock back, paid ones
    are also refunded after commit (nothing can be delivered to an address that is erased).
    Then every order loses its user and its personal fields (name and address). Returns how
    many orders were detached. Runs inside the caller's transaction (accounts.user_delete).
    """
    now = timezone.now()
    with transaction.atomic():
        ids = list(Order.objects.filter(user=user).order_by("pk").values_list("pk", flat=True))
        for order_id in ids:
            order_transition(order_id=order_id, to_status=S.CANCELLED, cancel_reason=CancelReason.ACCOUNT_DELETED,
                             expected_from=[S.PENDING, S.CONFIRMED])
        detached = Order.objects.filter(pk__in=ids).update(
            user=None, user_deleted_at=now, shipping_name="", shipping_address="", updated_at=now)
    return detached
