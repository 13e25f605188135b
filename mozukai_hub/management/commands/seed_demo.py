from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from mozukai_hub.demo import seed_all


class Command(BaseCommand):
    help = "Create (or refresh) the demo accounts and data used by `make run`. Idempotent."

    def handle(self, *args, **options):
        if settings.PRODUCTION:
            raise CommandError("Demo data is never seeded in production.")
        self.stdout.write("Demo data:")
        with transaction.atomic():
            seed_all(self.stdout)
