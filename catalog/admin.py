"""Staff run the shop here: stock and prices at a glance, orders moved along their workflow.

Every change that the storefront caches goes through a service (cache invalidation, the one
order transition table, refunds after commit)."""

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.db.models import Count

from mozukai_hub.admin import BoundedDateHierarchy
from mozukai_hub.api.errors import ApplicationError

from .cache import product_list_cache_invalidate
from .models import Category, Order, OrderItem, OrderStatus, Product, ProductImage
from .services import orders as order_services
from .services import products as product_services
from .services.payments import order_payment_refund


class LowStockFilter(admin.SimpleListFilter):
    title = "stock"
    parameter_name = "stock"

    def lookups(self, request, model_admin):
        return [("out", "Sold out"), ("low", f"Low (≤ {settings.SHOP_LOW_STOCK_THRESHOLD})"), ("ok", "In stock")]

    def queryset(self, request, queryset):
        threshold = settings.SHOP_LOW_STOCK_THRESHOLD
        if self.value() == "out":
            return queryset.filter(stock_quantity=0)
        if self.value() == "low":
            return queryset.filter(stock_quantity__gt=0, stock_quantity__lte=threshold)
        if self.value() == "ok":
            return queryset.filter(stock_quantity__gt=threshold)
        return queryset


class ProductImageInline(admin.TabularInline):
    model = ProductImage
    extra = 0


@admin.register(Category)
class CategoryAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "position", "product_count"]
    list_editable = ["position"]
    prepopulated_fields = {"slug": ["name"]}
    search_fields = ["name"]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(product_count=Count("products"))

    @admin.display(ordering="product_count", description="products")
    def product_count(self, obj):
        return obj.product_count

    def save_model(self, request, obj, form, change):
        product_services.category_save(category=obj)


class ProductAdminForm(forms.ModelForm):
    # The stock shown when the page was loaded: an edit is applied as a difference to it.
    stock_seen = forms.IntegerField(required=False, widget=forms.HiddenInput)

    class Meta:
        model = Product
        fields = "__all__"

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.fields["stock_seen"].initial = self.instance.stock_quantity


@admin.register(Product)
class ProductAdmin(admin.ModelAdmin):
    form = ProductAdminForm
    list_display = ["name", "category", "price", "currency", "stock_quantity", "is_active", "has_model", "updated_at"]
    list_editable = ["price", "is_active"]  # stock: on the product page, applied as a difference
    list_filter = [LowStockFilter, "is_active", "category"]
    list_select_related = ["category"]
    search_fields = ["name", "slug", "description"]
    prepopulated_fields = {"slug": ["name"]}
    raw_id_fields = ["model_asset"]
    # Held by unshipped orders; only orders move it (catalog.services.orders).
    readonly_fields = ["stock_reserved"]
    inlines = [ProductImageInline]
    actions = ["activate", "deactivate"]

    @admin.display(boolean=True, description="3D")
    def has_model(self, obj):
        return bool(obj.model_asset_id)

    def save_model(self, request, obj, form, change):
        if not change:
            super().save_model(request, obj, form, change)
            product_list_cache_invalidate()
            return
        # An existing product (change form or changelist row): write only the fields staff
        # changed, never stock_quantity. The form's stock is the value shown when the page was
        # loaded; orders may have reserved units since, and a full save would undo that.
        fields = [name for name in form.changed_data if name not in ("stock_quantity", "stock_seen")]
        if fields:
            obj.save(update_fields=[*fields, "updated_at"])
        seen = form.cleaned_data.get("stock_seen")
        wanted = form.cleaned_data.get("stock_quantity")
        if seen is None and "stock_quantity" in form.changed_data:
            self.message_user(request, f"{obj.name}: stock not changed (reload the page and edit it again).",
                              messages.WARNING)
        elif seen is not None and wanted is not None and wanted != seen:
            # Applied as a difference to the live value, through the one stock service.
            delta = wanted - seen
            if not product_services.product_stock_adjust(product_id=obj.pk, delta=delta):
                self.message_user(request, f"{obj.name}: only {Product.objects.get(pk=obj.pk).stock_quantity} left; "
                                           f"cannot remove {-delta}.", messages.ERROR)
        obj.refresh_from_db(fields=["stock_quantity"])
        product_list_cache_invalidate()

    def delete_model(self, request, obj):
        product_services.product_delete(product=obj)

    def delete_queryset(self, request, queryset):
        for product in queryset:
            product_services.product_delete(product=product)

    @admin.action(description="Put selected products on sale")
    def activate(self, request, queryset):
        queryset.update(is_active=True)
        product_list_cache_invalidate()

    @admin.action(description="Take selected products off sale")
    def deactivate(self, request, queryset):
        queryset.update(is_active=False)
        product_list_cache_invalidate()


class OrderItemInline(admin.TabularInline):
    model = OrderItem
    extra = 0
    can_delete = False
    fields = ["product", "product_name", "unit_price", "quantity", "line_total"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Order)
class OrderAdmin(BoundedDateHierarchy, admin.ModelAdmin):
    list_display = ["short_id", "customer", "status", "total_amount", "currency", "created_at", "expires_at"]
    list_filter = ["status", "cancel_reason", "created_at"]
    list_select_related = ["user"]
    search_fields = ["id", "user__email", "shipping_name", "stripe_payment_intent_id"]
    date_hierarchy = "created_at"
    inlines = [OrderItemInline]
    actions = ["ship", "deliver", "cancel", "refund"]
    # Status, money and stock move only through the services (actions below, or the API).
    readonly_fields = ["id", "user", "status", "cancel_reason", "currency", "total_amount", "stock_reserved", "expires_at",
                       "stripe_payment_intent_id", "created_at", "updated_at", "confirmed_at", "shipped_at",
                       "delivered_at", "cancelled_at", "confirmation_sent_at", "user_deleted_at"]
    fields = ["id", "user", "status", "cancel_reason", "total_amount", "currency", "shipping_name", "shipping_address",
              "stock_reserved", "expires_at", "stripe_payment_intent_id", "created_at", "confirmed_at", "shipped_at",
              "delivered_at", "cancelled_at", "confirmation_sent_at", "user_deleted_at", "updated_at"]

    def has_add_permission(self, request):
        return False  # orders are placed by customers, with stock reserved

    def save_model(self, request, obj, form, change):
        # Only the shipping details are edited here. A full save would write back status,
        # stock_reserved and cancel_reason from this unlocked copy, undoing a payment or a
        # cancellation that committed while the page was open.
        obj.save(update_fields=["shipping_name", "shipping_address", "updated_at"])

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description="order", ordering="created_at")
    def short_id(self, obj):
        return obj.short_id

    @admin.display(description="customer", ordering="user__email")
    def customer(self, obj):
        if obj.user_id is None and obj.user_deleted_at:
            return f"account deleted {obj.user_deleted_at:%Y-%m-%d}"
        return obj.user

    def _move(self, request, queryset, to_status: str, verb: str):
        done, refused = 0, []
        for order in queryset:
            try:
                order_services.order_transition(order_id=order.pk, to_status=to_status)
                done += 1
            except ApplicationError as error:
                refused.append(f"{order.short_id}: {error.message}")
        if done:
            self.message_user(request, f"{done} order{'s' if done != 1 else ''} {verb}.", messages.SUCCESS)
        for line in refused:
            self.message_user(request, line, messages.WARNING)

    @admin.action(description="Mark selected orders shipped")
    def ship(self, request, queryset):
        self._move(request, queryset, OrderStatus.SHIPPED, "shipped")

    @admin.action(description="Mark selected orders delivered")
    def deliver(self, request, queryset):
        self._move(request, queryset, OrderStatus.DELIVERED, "delivered")

    @admin.action(description="Cancel selected orders (paid ones are refunded, stock returned)")
    def cancel(self, request, queryset):
        self._move(request, queryset, OrderStatus.CANCELLED, "cancelled")

    @admin.action(description="Refund the payment of selected cancelled orders")
    def refund(self, request, queryset):
        for order in queryset:
            if order.status != OrderStatus.CANCELLED:
                self.message_user(request, f"{order.short_id}: cancel the order first (a paid order is refunded when cancelled).",
                                  messages.WARNING)
                continue
            try:
                payment = order_payment_refund(order_id=str(order.pk))
            except ApplicationError as error:
                self.message_user(request, f"{order.short_id}: {error.message}", messages.ERROR)
                continue
            state = payment.status if payment else "no payment"
            self.message_user(request, f"{order.short_id}: {state}.", messages.INFO)
