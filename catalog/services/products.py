"""Product and category writes. Every change drops the cached public list after commit.

Stock as the API speaks it (seed 004's `stock_quantity`) is what staff count on the shelf:
the units for sale (`Product.stock_quantity`) plus the units held by orders not shipped yet
(`Product.stock_reserved`, moved only by `services.orders`). Staff set the first figure;
orders move units between the other two without changing it, so a write of what staff read
never undoes a reservation made meanwhile. A staff figure below the held units is refused.
"""

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import IntegrityError, transaction
from django.db.models import F, ProtectedError
from django.utils import timezone
from django.utils.text import slugify

from mozukai_hub.api.errors import Conflict

from ..cache import product_list_cache_invalidate
from ..models import Category, Product, image_url_for

PRODUCT_FIELDS = ("category", "name", "slug", "description", "price", "currency", "is_active", "image")
SLUG_MAX = Product._meta.get_field("slug").max_length
_http_url = URLValidator(schemes=["http", "https"])


def product_slug_free(*, name: str) -> str:
    """A slug for `name` that no product has yet: `juniper`, else `juniper-2`, `juniper-3`…"""
    base = slugify(name)[: SLUG_MAX - 12].strip("-") or "product"
    taken = set(Product.objects.filter(slug__startswith=base).values_list("slug", flat=True))
    if base not in taken:
        return base
    number = 2
    while f"{base}-{number}" in taken:
        number += 1
    return f"{base}-{number}"


def _external_image_url(value: str | None, *, product: Product | None = None) -> str:
    """Seed 004's `image_url` as stored: empty (show the uploaded photo) or an http(s) URL."""
    value = (value or "").strip()
    if not value or (product is not None and value == image_url_for(product.image)):
        return ""
    try:
        _http_url(value)
    except ValidationError:
        raise ValidationError({"image_url": ["Enter an http or https address of the photo."]}) from None
    return value


def product_create(*, data: dict) -> Product:
    """A new product. Without a `slug` one is derived from the name (unique, see product_slug_free);
    `stock_quantity` is the units on hand, all for sale (nothing is held yet)."""
    derived = not data.get("slug")
    attempts = 5 if derived else 1
    for attempt in range(1, attempts + 1):
        product = Product(**{name: data[name] for name in PRODUCT_FIELDS if name in data})
        product.stock_quantity = data.get("stock_quantity", 0)
        if "image_url" in data:
            product.external_image_url = _external_image_url(data["image_url"])
        if derived:
            product.slug = product_slug_free(name=product.name)
        product.full_clean()
        try:
            with transaction.atomic():
                product.save()
        except IntegrityError as exc:
            # Another create took the slug between the check and the insert.
            if attempt == attempts:
                raise ValidationError({"slug": ["A product with this slug already exists."]}) from exc
            continue
        product_list_cache_invalidate()
        return product


@transaction.atomic
def product_update(*, product: Product, data: dict) -> Product:
    """Apply the given fields (a partial update when `data` holds only some).

    `stock_quantity` is the units on hand (see the module's note): what can be sold becomes
    that figure less the units held by unshipped orders, computed under the product's row lock,
    which every reservation, return and shipment also takes. With `expected_stock_quantity` the
    write is also conditional on the on-hand figure the client read (409 stock_changed)."""
    fields = [name for name in PRODUCT_FIELDS if name in data]
    product = Product.objects.select_for_update().get(pk=product.pk)
    for name in fields:
        setattr(product, name, data[name])
    if "stock_quantity" in data:
        expected = data.get("expected_stock_quantity")
        if expected is not None and product.stock_on_hand != expected:
            raise Conflict(f"The stock changed to {product.stock_on_hand} since it was read; read it again.",
                           code="stock_changed", extra={"stock_quantity": product.stock_on_hand})
        on_hand = data["stock_quantity"]
        if on_hand < product.stock_reserved:
            raise Conflict(
                f"{product.stock_reserved} units are held by orders not shipped yet; the stock on hand "
                f"cannot be less than that (ship or cancel those orders first).",
                code="stock_below_reserved", extra={"stock_reserved": product.stock_reserved},
            )
        product.stock_quantity = on_hand - product.stock_reserved
        fields.append("stock_quantity")
    if "image_url" in data:
        product.external_image_url = _external_image_url(data["image_url"], product=product)
        fields.append("external_image_url")
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
