"""Product and category writes. Every change drops the cached public list after commit."""

from django.db import transaction
from django.db.models import F, ProtectedError
from django.utils import timezone

from mozukai_hub.api.errors import ApplicationError, Conflict

from ..cache import product_list_cache_invalidate
from ..models import Category, Product

PRODUCT_FIELDS = ("category", "name", "slug", "description", "price", "currency", "stock_quantity", "is_active", "image")


@transaction.atomic
def product_create(*, data: dict) -> Product:
    product = Product(**{name: data[name] for name in PRODUCT_FIELDS if name in data})
    product.full_clean()
    product.save()
    product_list_cache_invalidate()
    return product


@transaction.atomic
def product_update(*, product: Product, data: dict) -> Product:
    """Apply the given fields (a partial update when `data` holds only some).

    A new absolute `stock_quantity` is a conditional update: it needs `expected_stock_quantity`
    (the stock the client read) and is refused with 409 when orders have reserved or returned
    units since, so a reservation is never overwritten."""
    fields = [name for name in PRODUCT_FIELDS if name in data]
    product = Product.objects.select_for_update().get(pk=product.pk)
    if "stock_quantity" in data:
        expected = data.get("expected_stock_quantity")
        if expected is None:
            raise ApplicationError("Send expected_stock_quantity (the stock you read) with a new stock_quantity.",
                                   code="expected_stock_required")
        if product.stock_quantity != expected:
            raise Conflict(f"The stock changed to {product.stock_quantity} since it was read; read it again.",
                           code="stock_changed", extra={"stock_quantity": product.stock_quantity})
    for name in fields:
        setattr(product, name, data[name])
    product.full_clean()
    product.save(update_fields=[*fields, "updated_at"])
    product_list_cache_invalidate()
    return product


@transaction.atomic
def product_delete(*, product: Product) -> bool:
    """Delete a product; one that was ever ordered is deactivated instead (orders keep it).

    Returns True when the row was deleted, False when it was deactivated.
    """
    product_list_cache_invalidate()
    try:
        with transaction.atomic():
            Product.objects.filter(pk=product.pk).delete()
        return True
    except ProtectedError:
        Product.objects.filter(pk=product.pk).update(is_active=False)
        return False


@transaction.atomic
def category_save(*, category: Category) -> Category:
    category.full_clean()
    category.save()
    product_list_cache_invalidate()
    return category


def product_stock_adjust(*, product_id: int, delta: int) -> bool:
    """Add `delta` units (negative removes) relative to whatever the stock is now, so a staff
    correction never overwrites reservations made meanwhile. False if it would go below zero."""
    with transaction.atomic():
        changed = Product.objects.filter(pk=product_id, stock_quantity__gte=max(0, -delta)).update(
            stock_quantity=F("stock_quantity") + delta, updated_at=timezone.now())
        if changed:
            product_list_cache_invalidate()
    return bool(changed)
