from datetime import timedelta

from django.core.management.base import BaseCommand

from billing.services.idempotency import idempotent_request_purge


class Command(BaseCommand):
    help = "Delete stored Idempotency-Key responses older than --days (default 7). Schedule it daily."

    def add_arguments(self, parser):
        parser.add_argument("--days", type=int, default=7)

    def handle(self, *args, days: int, **options):
        deleted = idempotent_request_purge(older_than=timedelta(days=days))
        self.stdout.write(f"Deleted {deleted} stored idempotent responses older than {days} days.")
