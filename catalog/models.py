"""The bonsai shop: categories, products, orders and their lines.

Money is `Decimal` with an ISO 4217 currency; Stripe amounts (minor units) are derived with
`to_minor_units`. Stock is a non-negative integer guarded by a database constraint as well as
by the conditional decrement in `services.orders` (the constraint is the last line of defence).
"""

import uuid
from decimal import Decimal

from django.conf import settings
from django.core.validators import MinValueValidator, RegexValidator, URLValidator
from django.db import models
from django.urls import reverse

# Currencies whose Stripe amount has no minor unit (https://docs.stripe.com/currencies).
ZERO_DECIMAL_CURRENCIES = frozenset({"bif", "clp", "djf", "gnf", "jpy", "kmf", "krw", "mga", "pyg", "rwf", "ugx", "vnd", "vuv", "xaf", "xof", "xpf"})

currency_validator = RegexValidator(r"^[a-z]{3}$", "Use a three-letter ISO 4217 code in lower case, e.g. usd.")


def to_minor_units(amount: Decimal, currency: str) -> int:
    """Stripe amount for a Decimal price: cents for usd, yen for jpy."""
    exponent = 0 if currency.lower() in ZERO_DECIMAL_CURRENCIES else 2
    return int((amount * (10**exponent)).to_integral_value())


def image_url_for(image_field) -> str | None:
    """Public URL of a product photo (served by catalog.files.product_image)."""
    if not image_field:
        return None
    return reverse("catalog:image", kwargs={"name": image_field.name.rsplit("/", 1)[-1]})


def default_currency() -> str:
    return settings.SHOP_CURRENCY


def product_image_upload_to(instance, filename):
    return f"catalog/products/{uuid.uuid4().hex}.png"


class Category(models.Model):
    name = models.CharField(max_length=100, unique=True)
    slug = models.SlugField(max_length=100, unique=True)
    description = models.TextField(blank=True)
    position = models.PositiveSmallIntegerField(default=0, help_text="Order in menus (lower first).")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["position", "name"]
        verbose_name_plural = "categories"

    def __str__(self):
        return self.name


class Product(models.Model):
    category = models.ForeignKey(Category, on_delete=models.PROTECT, related_name="products")
    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=200, unique=True)
    description = models.TextField(blank=True)
    price = models.DecimalField(max_digits=10, decimal_places=2, validators=[MinValueValidator(Decimal("0.01"))])
    currency = models.CharField(max_length=3, default=default_currency, validators=[currency_validator])
    image = models.ImageField(upload_to=product_image_upload_to, blank=True)
    # Seed 004's `image_url` as staff send it through the API: a photo hosted elsewhere (http or
    # https), shown by the API in place of the uploaded `image` while it is set.
    external_image_url = models.CharField(max_length=500, blank=True, validators=[URLValidator(schemes=["http", "https"])])
    # Units that can be ordered now. Placing an order moves units from here to `stock_reserved`.
    stock_quantity = models.PositiveIntegerField(default=0, help_text="Units that can be ordered now.")
    # Units held by orders placed and not yet shipped or cancelled: shipping takes them off the
    # shelf, cancelling puts them back into `stock_quantity`. The API's `stock_quantity` is what
    # staff count on the shelf, stock_quantity + stock_reserved (see services.products).
    stock_reserved = models.PositiveIntegerField(default=0, help_text="Units held by unshipped orders.")
    is_active = models.BooleanField(default=True)
    # A 3D model of the product (a GLB from the pipeline), shown in <model-viewer>.
    model_asset = models.ForeignKey(
        "pipeline.Asset", null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
        help_text="A GLB asset from the 3D pipeline, shown on the product page.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "id"]
        indexes = [
            models.Index(fields=["is_active", "category", "price"], name="catalog_product_browse"),
            models.Index(fields=["is_active", "name", "id"], name="catalog_product_by_name"),
        ]
        constraints = [
            models.CheckConstraint(condition=models.Q(stock_quantity__gte=0), name="catalog_product_stock_not_negative"),
            models.CheckConstraint(condition=models.Q(stock_reserved__gte=0), name="catalog_product_reserved_not_negative"),
            models.CheckConstraint(condition=models.Q(price__gt=0), name="catalog_product_price_positive"),
        ]

    def __str__(self):
        return self.name

    @property
    def image_url(self) -> str | None:
        return image_url_for(self.image)

    @property
    def in_stock(self) -> bool:
        return self.stock_quantity > 0

    @property
    def stock_on_hand(self) -> int:
        """What staff count on the shelf: units for sale plus units held by unshipped orders."""
        return self.stock_quantity + self.stock_reserved

    @property
    def low_stock(self) -> bool:
        return 0 < self.stock_quantity <= settings.SHOP_LOW_STOCK_THRESHOLD


class ProductImage(models.Model):
    """Further photos of a product; `Product.image` is the main one."""

    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="images")
    image = models.ImageField(upload_to=product_image_upload_to)
    alt = models.CharField(max_length=200, blank=True)
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["position", "id"]

    def __str__(self):
        return self.alt or f"Image {self.pk} of {self.product}"

    @property
    def image_url(self) -> str | None:
        return image_url_for(self.image)


class OrderStatus(models.TextChoices):
    PENDING = "pending", "Awaiting payment"
    CONFIRMED = "confirmed", "Confirmed"
    SHIPPED = "shipped", "Shipped"
    DELIVERED = "delivered", "Delivered"
    CANCELLED = "cancelled", "Cancelled"


class CancelReason(models.TextChoices):
    NONE = "", "—"
    CUSTOMER = "customer", "Cancelled by the customer"
    STAFF = "staff", "Cancelled by staff"
    EXPIRED = "expired", "Not paid in time"
    PAYMENT_FAILED = "payment_failed", "Payment failed"
    ACCOUNT_DELETED = "account_deleted", "The customer deleted their account"


class Order(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    # Empty once the customer deleted their account: the order stays for bookkeeping, its
    # personal fields blanked (services.orders.orders_detach_user).
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                             related_name="orders")
    user_deleted_at = models.DateTimeField(null=True, blank=True,
                                           help_text="When the customer's account was deleted (the order was detached).")
    status = models.CharField(max_length=20, choices=OrderStatus.choices, default=OrderStatus.PENDING)
    cancel_reason = models.CharField(max_length=20, choices=CancelReason.choices, default=CancelReason.NONE, blank=True)
    currency = models.CharField(max_length=3, validators=[currency_validator])
    total_amount = models.DecimalField(max_digits=12, decimal_places=2)
    # True while the order holds stock; flipped (under the row lock) when the stock goes back.
    stock_reserved = models.BooleanField(default=True)
    expires_at = models.DateTimeField(help_text="An unpaid order is cancelled and its stock returned after this.")
    stripe_payment_intent_id = models.CharField(max_length=255, blank=True)
    shipping_name = models.CharField(max_length=150, blank=True)
    shipping_address = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    confirmed_at = models.DateTimeField(null=True, blank=True)
    shipped_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    confirmation_sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["user", "-created_at"], name="catalog_order_history"),
            models.Index(fields=["status", "expires_at"], name="catalog_order_expiry"),
        ]
        constraints = [
            models.CheckConstraint(condition=models.Q(status__in=OrderStatus.values), name="catalog_order_status_valid"),
            models.CheckConstraint(condition=models.Q(total_amount__gte=0), name="catalog_order_total_not_negative"),
        ]

    def __str__(self):
        return f"Order {self.short_id}"

    @property
    def short_id(self) -> str:
        return str(self.id).split("-")[0].upper()

    @property
    def amount_minor(self) -> int:
        return to_minor_units(self.total_amount, self.currency)


class OrderItem(models.Model):
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="items")
    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="order_items")
    # Snapshots: what the customer saw and paid, whatever happens to the product later.
    product_name = models.CharField(max_length=200)
    unit_price = models.DecimalField(max_digits=10, decimal_places=2)
    quantity = models.PositiveIntegerField(validators=[MinValueValidator(1)])
    line_total = models.DecimalField(max_digits=12, decimal_places=2)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["order", "product"], name="catalog_orderitem_one_line_per_product"),
            models.CheckConstraint(condition=models.Q(quantity__gte=1), name="catalog_orderitem_quantity_positive"),
        ]

    def __str__(self):
        return f"{self.quantity} × {self.product_name}"
