from django.apps import AppConfig


class CatalogConfig(AppConfig):
    name = "catalog"
    verbose_name = "Shop"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        # Billing never imports catalog: it finds our handler for purpose "order" here.
        from accounts.deletion import user_deletion_step_register
        from billing.payments import register_payment_handler

        from .services.orders import orders_detach_user
        from .services.payments import OrderPaymentHandler

        register_payment_handler("order", OrderPaymentHandler())
        # Account deletion: orders are kept for bookkeeping, cancelled if unshipped and anonymised.
        user_deletion_step_register(name="catalog.orders", order=20, run=orders_detach_user)
