from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"
    # allauth's `account` app is titled "Accounts" in the admin too: one heading each, not two alike.
    verbose_name = "Users and profiles"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from . import schema  # noqa: F401  (registers the OpenAPI auth extension)
