from django.apps import AppConfig


class MozukaiHubConfig(AppConfig):
    name = "mozukai_hub"
    verbose_name = "Mozukai Hub"
