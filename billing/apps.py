from django.apps import AppConfig


class BillingConfig(AppConfig):
    name = "billing"
    verbose_name = "Billing"

    def ready(self):
        # Billing fulfils its own purpose (credit packs) through the same registry that
        # other apps (catalog: "order") use.
        from .payments import register_payment_handler
        from .services.packs import CreditPackHandler

        register_payment_handler("credit_pack", CreditPackHandler())
