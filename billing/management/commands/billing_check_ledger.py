from django.core.management.base import BaseCommand, CommandError
from django.db.models import F, Sum, Value
from django.db.models.functions import Coalesce

from billing.models import CreditAccount


class Command(BaseCommand):
    help = "Check that every credit account's balance equals the sum of its ledger entries."

    def handle(self, *args, **options):
        accounts = CreditAccount.objects.annotate(ledger=Coalesce(Sum("entries__amount"), Value(0)))
        wrong = list(accounts.exclude(balance=F("ledger")).values_list("pk", "balance", "ledger"))
        total = CreditAccount.objects.count()
        for pk, balance, ledger in wrong:
            self.stderr.write(f"account {pk}: balance {balance} but ledger sums to {ledger}")
        if wrong:
            raise CommandError(f"{len(wrong)} of {total} credit accounts disagree with their ledger.")
        self.stdout.write(f"OK: {total} credit accounts agree with their ledger.")
