"""API shapes. Output is built by plain functions (the list is hot); input is validated by
strict serializers that reject unknown fields."""

import functools
import re
from decimal import Decimal

from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from mozukai_hub.api.serializers import StrictSerializer

from ..models import Category, Order, Product


@functools.cache
def _url_prefixes() -> tuple[str, str]:
    """Where photos and models are served; reversed once, not once per product."""
    image = reverse("catalog:image", kwargs={"name": "0" * 32 + ".png"}).removesuffix("0" * 32 + ".png")
    model = reverse("catalog:product-model", kwargs={"product_id": 1}).removesuffix("1.glb")
    return image, model


# The columns a list row needs (read with `.values()`: no model instances on the hot path).
PRODUCT_LIST_FIELDS = ("id", "name", "slug", "description", "price", "currency", "category__slug", "category_id",
                       "category__name", "image", "external_image_url", "model_asset_id", "stock_quantity",
                       "stock_reserved", "is_active", "created_at", "updated_at")


def product_row_data(row: dict) -> dict:
    image_prefix, model_prefix = _url_prefixes()
    image = row["image"]
    return {
        "id": row["id"],
        "name": row["name"],
        "slug": row["slug"],
        "description": row["description"],
        "price": str(row["price"]),
        "currency": row["currency"],
        "category": row["category__slug"],
        "category_id": row["category_id"],
        "category_name": row["category__name"],
        "image_url": row["external_image_url"] or (f"{image_prefix}{image.rsplit('/', 1)[-1]}" if image else None),
        "model_url": f"{model_prefix}{row['id']}.glb" if row["model_asset_id"] else None,
        # On hand (what staff set) and what can be ordered now (on hand less unshipped orders' units).
        "stock_quantity": row["stock_quantity"] + row["stock_reserved"],
        "available_quantity": row["stock_quantity"],
        "in_stock": row["stock_quantity"] > 0,
        "is_active": row["is_active"],
        "created_at": row["created_at"].isoformat(),
        "updated_at": row["updated_at"].isoformat(),
    }


def product_data(product: Product) -> dict:
    row = {name: getattr(product, name) for name in PRODUCT_LIST_FIELDS if "__" not in name}
    row.update(image=product.image.name, category__slug=product.category.slug, category__name=product.category.name)
    return product_row_data(row)


def product_detail_data(product: Product) -> dict:
    return {**product_data(product), "images": [image.image_url for image in product.images.all()]}


def category_data(category: Category) -> dict:
    return {"id": category.pk, "name": category.name, "slug": category.slug, "description": category.description}


def order_data(order: Order) -> dict:
    return {
        "id": str(order.pk),
        "user_id": str(order.user_id) if order.user_id else None,
        "status": order.status,
        "cancel_reason": order.cancel_reason or None,
        "total_amount": str(order.total_amount),
        "currency": order.currency,
        "stripe_payment_intent_id": order.stripe_payment_intent_id or None,
        "expires_at": order.expires_at.isoformat() if order.status == "pending" else None,
        "shipping_name": order.shipping_name,
        "shipping_address": order.shipping_address,
        "items": [
            {
                "product_id": item.product_id,
                "product_name": item.product_name,
                "unit_price": str(item.unit_price),
                "quantity": item.quantity,
                "line_total": str(item.line_total),
            }
            for item in order.items.all()
        ],
        "created_at": order.created_at.isoformat(),
        "updated_at": order.updated_at.isoformat(),
    }


@extend_schema_field(OpenApiTypes.STR)
class CategoryField(serializers.Field):
    """Seed 004's `category: str`: a category's slug or its name (any case); an id also works."""

    default_error_messages = {"does_not_exist": "No category “{value}”; use one of: {known}."}

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, (str, int)):
            self.fail("does_not_exist", value=str(data)[:100], known=self._known())
        text = str(data).strip()[:200]
        found = Category.objects.filter(slug=text).first() or Category.objects.filter(name__iexact=text).first()
        if found is None and re.fullmatch(r"[0-9]{1,18}", text):
            found = Category.objects.filter(pk=int(text)).first()
        if found is None:
            self.fail("does_not_exist", value=text[:100], known=self._known())
        return found

    @staticmethod
    def _known() -> str:
        slugs = ", ".join(Category.objects.order_by("position", "name").values_list("slug", flat=True)[:50])
        return slugs or "(none yet: staff create them in the admin)"

    def to_representation(self, value):
        return value.slug


class ProductInput(StrictSerializer):
    name = serializers.CharField(max_length=200)
    slug = serializers.SlugField(
        max_length=200, required=False,
        help_text="Optional: derived from the name when left out (made unique with -2, -3…); kept on PUT.")
    description = serializers.CharField(required=False, allow_blank=True)
    price = serializers.DecimalField(max_digits=10, decimal_places=2, min_value=Decimal("0.01"))
    currency = serializers.RegexField(r"^[a-zA-Z]{3}$", required=False)
    category = CategoryField(required=False, help_text="A category's slug or name (or id).")
    category_id = serializers.PrimaryKeyRelatedField(queryset=Category.objects.all(), required=False)
    image_url = serializers.CharField(
        max_length=500, required=False, allow_blank=True, allow_null=True,
        help_text="An http(s) address of a photo hosted elsewhere, shown in place of the uploaded photo; "
                  "null, empty or the product's own photo address shows the uploaded photo again.")
    stock_quantity = serializers.IntegerField(
        min_value=0, max_value=2**31 - 1, required=False,
        help_text="Units on hand, counting those held by orders not shipped yet. Orders never change "
                  "this figure until they ship, so a PUT of what you read is safe; available_quantity "
                  "(on hand less the held units) is what customers can order. Less than the held units "
                  "is a 409 stock_below_reserved.")
    expected_stock_quantity = serializers.IntegerField(
        min_value=0, max_value=2**31 - 1, required=False, write_only=True,
        help_text="Optional, PUT/PATCH: the stock_quantity you read; the write is refused with 409 "
                  "stock_changed when it differs now (an order shipped or staff changed it meanwhile).")
    is_active = serializers.BooleanField(required=False)

    def validate(self, attrs):
        if "category_id" in attrs:
            attrs["category"] = attrs.pop("category_id")
        if "currency" in attrs:
            attrs["currency"] = attrs["currency"].lower()
        if not self.partial and "category" not in attrs:
            raise serializers.ValidationError({"category": ["This field is required (a category slug, or category_id)."]})
        return attrs


class OrderLineInput(StrictSerializer):
    product_id = serializers.IntegerField(min_value=1, max_value=2**63 - 1)
    quantity = serializers.IntegerField(min_value=1, max_value=2**31 - 1)
    # Accepted so clients that echo the price they showed keep working, and ignored: the
    # price always comes from the catalog.
    price = serializers.DecimalField(max_digits=12, decimal_places=2, required=False, write_only=True)
    unit_price = serializers.DecimalField(max_digits=12, decimal_places=2, required=False, write_only=True)


class OrderInput(StrictSerializer):
    items = OrderLineInput(many=True, allow_empty=False)
    shipping_name = serializers.CharField(max_length=150, required=False, allow_blank=True)
    shipping_address = serializers.CharField(max_length=1000, required=False, allow_blank=True)


class OrderStatusInput(StrictSerializer):
    status = serializers.CharField(max_length=20)


# --- Response shapes, for the OpenAPI schema (the data itself is built by the functions above).


class ProductOutput(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    slug = serializers.SlugField()
    description = serializers.CharField()
    price = serializers.DecimalField(max_digits=10, decimal_places=2, coerce_to_string=True)
    currency = serializers.CharField()
    category = serializers.SlugField()
    category_id = serializers.IntegerField()
    category_name = serializers.CharField()
    image_url = serializers.CharField(allow_null=True)
    model_url = serializers.CharField(allow_null=True)
    stock_quantity = serializers.IntegerField(help_text="Units on hand (what staff set), including units held by unshipped orders.")
    available_quantity = serializers.IntegerField(help_text="Units that can be ordered now.")
    in_stock = serializers.BooleanField()
    is_active = serializers.BooleanField()
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()


class ProductDetailOutput(ProductOutput):
    images = serializers.ListField(child=serializers.CharField())


class CategoryOutput(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    slug = serializers.SlugField()
    description = serializers.CharField()


class OrderItemOutput(serializers.Serializer):
    product_id = serializers.IntegerField()
    product_name = serializers.CharField()
    unit_price = serializers.DecimalField(max_digits=10, decimal_places=2, coerce_to_string=True)
    quantity = serializers.IntegerField()
    line_total = serializers.DecimalField(max_digits=12, decimal_places=2, coerce_to_string=True)


class OrderOutput(serializers.Serializer):
    id = serializers.UUIDField()
    user_id = serializers.UUIDField(allow_null=True, help_text="Empty once the customer deleted the account.")
    status = serializers.CharField(help_text="pending, confirmed, shipped, delivered or cancelled")
    cancel_reason = serializers.CharField(allow_null=True)
    total_amount = serializers.DecimalField(max_digits=12, decimal_places=2, coerce_to_string=True)
    currency = serializers.CharField()
    stripe_payment_intent_id = serializers.CharField(allow_null=True)
    expires_at = serializers.DateTimeField(allow_null=True)
    shipping_name = serializers.CharField()
    shipping_address = serializers.CharField()
    items = OrderItemOutput(many=True)
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()
