from django.apps import AppConfig


class CatalogConfig(AppConfig):
    name = "catalog"
    verbose_name = "Shop"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        # Billing never imports catalog: it finds our handler for purpose "order" here.
        from billing.payments import register_payment_handler

        from .services.payments import OrderPaymentHandler

        register_payment_handler("order", OrderPaymentHandler())
