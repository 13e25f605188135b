from django.core.management.base import BaseCommand, CommandError
from django.db.models import Exists, F, OuterRef, Sum, Value
from django.db.models.functions import Coalesce

from billing.models import CreditAccount, CreditEntry, entries_keeping_the_sign_rule


class Command(BaseCommand):
    help = ("Check the credit ledger: every account's balance equals the sum of its entries, every entry has "
            "its account and the sign its kind carries.")

    def handle(self, *args, **options):
        accounts = CreditAccount.objects.annotate(ledger=Coalesce(Sum("entries__amount"), Value(0)))
        wrong = list(accounts.exclude(balance=F("ledger")).values_list("pk", "balance", "ledger"))
        total = CreditAccount.objects.count()
        for pk, balance, ledger in wrong:
            self.stderr.write(f"account {pk}: balance {balance} but ledger sums to {ledger}")
        # What the database does not enforce on entries, for the speed of every insert (see
        # CreditEntry): the account link and the kind's sign.
        problems = {
            "have no account": CreditEntry.objects.filter(~Exists(CreditAccount.objects.filter(pk=OuterRef("account_id")))),
            "have an unknown kind or a sign their kind does not allow": CreditEntry.objects.exclude(
                entries_keeping_the_sign_rule()),
        }
        counts = {what: entries.count() for what, entries in problems.items()}
        for what, count in counts.items():
            if count:
                self.stderr.write(f"{count} ledger entries {what}")
        if wrong or any(counts.values()):
            found = "; ".join(f"{count} entries {what}" for what, count in counts.items() if count)
            raise CommandError(f"{len(wrong)} of {total} credit accounts disagree with their ledger"
                               + (f"; {found}." if found else "."))
        self.stdout.write(f"OK: {total} credit accounts agree with their ledger; every entry has its account "
                          "and the sign its kind carries.")
