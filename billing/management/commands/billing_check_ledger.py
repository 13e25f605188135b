from django.core.management.base import BaseCommand, CommandError
from django.db.models import Exists, F, OuterRef, Sum, Value
from django.db.models.functions import Coalesce

from billing.models import CreditAccount, CreditEntry


class Command(BaseCommand):
    help = "Check that every credit account's balance equals the sum of its ledger entries, and that every entry has its account."

    def handle(self, *args, **options):
        accounts = CreditAccount.objects.annotate(ledger=Coalesce(Sum("entries__amount"), Value(0)))
        wrong = list(accounts.exclude(balance=F("ledger")).values_list("pk", "balance", "ledger"))
        total = CreditAccount.objects.count()
        for pk, balance, ledger in wrong:
            self.stderr.write(f"account {pk}: balance {balance} but ledger sums to {ledger}")
        # The entry -> account link has no database constraint (see CreditEntry.account).
        orphans = CreditEntry.objects.filter(~Exists(CreditAccount.objects.filter(pk=OuterRef("account_id")))).count()
        if orphans:
            self.stderr.write(f"{orphans} ledger entries belong to no credit account")
        if wrong or orphans:
            raise CommandError(f"{len(wrong)} of {total} credit accounts disagree with their ledger; "
                               f"{orphans} entries have no account.")
        self.stdout.write(f"OK: {total} credit accounts agree with their ledger; every entry has its account.")
