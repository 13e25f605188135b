from django.apps import AppConfig


class MozukaiHubConfig(AppConfig):
    name = "mozukai_hub"
    verbose_name = "Mozukai Hub"

    def ready(self):
        from . import checks  # noqa: F401  (registers the system checks)
