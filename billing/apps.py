from django.apps import AppConfig


class BillingConfig(AppConfig):
    name = "billing"
    verbose_name = "Billing"

    def ready(self):
        # Billing fulfils its own purpose (credit packs) through the same registry that
        # other apps (catalog: "order") use.
        from accounts.deletion import user_deletion_step_register

        from .payments import register_payment_handler
        from .services.ledger import credit_account_close
        from .services.packs import CreditPackHandler

        register_payment_handler("credit_pack", CreditPackHandler())
        # Account deletion: the credit account is closed (no owner, ledger kept) after the
        # pipeline's step has released the holds of unfinished jobs.
        user_deletion_step_register(name="billing.credit_account", order=30, run=credit_account_close)
