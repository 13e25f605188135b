"""Reads: the only way views fetch shop objects (ownership applied here)."""

import re
from decimal import Decimal, InvalidOperation
from uuid import UUID

from django.db.models import Q, QuerySet
from django.http import Http404
from django.shortcuts import get_object_or_404

from .models import Category, Order, Product

PRODUCT_ORDERINGS = {
    "name": ("name", "id"),
    "-name": ("-name", "-id"),
    "price": ("price", "id"),
    "-price": ("-price", "-id"),
    "newest": ("-created_at", "-id"),
    "created_at": ("created_at", "id"),
    "-created_at": ("-created_at", "-id"),
    "stock": ("stock_quantity", "id"),
    "-stock": ("-stock_quantity", "-id"),
}
MAX_ID = 2**63 - 1  # PostgreSQL bigint: a larger id is a database error, not a miss
TRUE_WORDS = {"1", "true", "yes", "on"}
FALSE_WORDS = {"0", "false", "no", "off"}


class ProductFilterError(ValueError):
    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field
        self.message = message


def id_from_text(text: str) -> int | None:
    """The id an ASCII-digit string names, or None (not digits, 0, or beyond any row id).

    `str.isdigit()` is not enough: it accepts "²", which `int()` rejects."""
    text = str(text)
    if not re.fullmatch(r"[0-9]{1,19}", text):
        return None
    number = int(text)
    return number if 1 <= number <= MAX_ID else None


def _decimal(field: str, value: str) -> Decimal:
    try:
        number = Decimal(value)
    except InvalidOperation:
        raise ProductFilterError(field, "Enter a number.") from None
    if not number.is_finite() or number < 0:
        raise ProductFilterError(field, "Enter a number of zero or more.")
    return number


def product_list(*, filters: dict[str, str] | None = None) -> QuerySet[Product]:
    """Active products for the storefront and the public API.

    Filters (all optional strings, as they come from a query string): `category` (slug or id),
    `min_price`, `max_price`, `in_stock` (true/false), `q` or `search` (name and description),
    `ordering` (one of PRODUCT_ORDERINGS). A bad value raises ProductFilterError.
    """
    filters = filters or {}
    qs = Product.objects.filter(is_active=True).select_related("category")
    category = (filters.get("category") or "").strip()
    if category:
        # An id when it can be one; anything else (also "²" or an id beyond bigint) is a slug.
        category_id = id_from_text(category)
        qs = qs.filter(category_id=category_id) if category_id is not None else qs.filter(category__slug=category)
    if filters.get("min_price"):
        qs = qs.filter(price__gte=_decimal("min_price", filters["min_price"]))
    if filters.get("max_price"):
        qs = qs.filter(price__lte=_decimal("max_price", filters["max_price"]))
    in_stock = (filters.get("in_stock") or "").strip().lower()
    if in_stock in TRUE_WORDS:
        qs = qs.filter(stock_quantity__gt=0)
    elif in_stock in FALSE_WORDS:
        qs = qs.filter(stock_quantity=0)
    elif in_stock:
        raise ProductFilterError("in_stock", "Use true or false.")
    text = (filters.get("q") or filters.get("search") or "").strip()
    if text:
        qs = qs.filter(Q(name__icontains=text) | Q(description__icontains=text))
    ordering = (filters.get("ordering") or "name").strip()
    if ordering not in PRODUCT_ORDERINGS:
        raise ProductFilterError("ordering", f"Use one of: {', '.join(PRODUCT_ORDERINGS)}.")
    return qs.order_by(*PRODUCT_ORDERINGS[ordering])


def product_get(*, key: str, user=None) -> Product:
    """A product by id or slug. Inactive products exist only for staff."""
    qs = Product.objects.select_related("category").prefetch_related("images")
    if not (user is not None and user.is_authenticated and user.is_staff):
        qs = qs.filter(is_active=True)
    if re.fullmatch(r"[0-9]+", str(key)):
        product_id = id_from_text(key)
        if product_id is None:
            raise Http404("No such product.")
        return get_object_or_404(qs, pk=product_id)
    return get_object_or_404(qs, slug=key)


def category_list() -> QuerySet[Category]:
    return Category.objects.all()


def category_get(*, slug: str) -> Category:
    return get_object_or_404(Category, slug=slug)


def order_list_for_user(*, user) -> QuerySet[Order]:
    return Order.objects.filter(user=user).prefetch_related("items").order_by("-created_at")


def order_get_for_user(*, user, order_id) -> Order:
    """Another user's order is indistinguishable from a missing one."""
    try:
        UUID(str(order_id))
    except ValueError:
        raise Http404("No such order.") from None
    return get_object_or_404(Order.objects.prefetch_related("items"), pk=order_id, user=user)


def order_get_for_staff(*, order_id) -> Order:
    try:
        UUID(str(order_id))
    except ValueError:
        raise Http404("No such order.") from None
    return get_object_or_404(Order.objects.prefetch_related("items"), pk=order_id)
