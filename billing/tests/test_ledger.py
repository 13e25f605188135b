import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management import CommandError, call_command
from django.db import connection, transaction

from billing import services
from billing.models import AppendOnly, CreditAccount, CreditEntry, EntryKind
from billing.selectors import credits_held
from mozukai_hub.api.errors import Conflict
from mozukai_hub.testing.fixtures import bearer_client, make_user

pytestmark = pytest.mark.django_db


def balance(user) -> int:
    return CreditAccount.objects.get(user=user).balance


def ledger_sum(user) -> int:
    return sum(CreditEntry.objects.filter(account__user=user).values_list("amount", flat=True))


def adjusting_staff():
    from django.contrib.auth.models import Permission

    staff = make_user(is_staff=True)
    staff.user_permissions.add(Permission.objects.get(content_type__app_label="billing", codename="adjust_credits"))
    return staff


def grant(user, amount, key="welcome"):
    return services.credits_grant(user=user, amount=amount, reason="test", idempotency_key=f"{user.pk}:{key}")


def test_grant_and_consume_are_idempotent_for_the_same_key(user):
    grant(user, 10)
    grant(user, 10)
    first = services.credits_consume(user=user, amount=3, reason="render", idempotency_key="k1")
    again = services.credits_consume(user=user, amount=3, reason="render", idempotency_key="k1")
    assert (first.replayed, again.replayed) == (False, True)
    assert again.entry_id == first.entry_id
    assert balance(user) == 7 == ledger_sum(user)
    with pytest.raises(Conflict):
        services.credits_consume(user=user, amount=4, reason="render", idempotency_key="k1")
    assert balance(user) == 7


def test_consume_more_than_the_balance_is_refused_and_writes_nothing(user):
    grant(user, 2)
    before = CreditEntry.objects.count()
    with pytest.raises(services.InsufficientCredits) as caught:
        services.credits_consume(user=user, amount=3)
    assert caught.value.status_code == 402 and caught.value.code == "insufficient_credits"
    assert CreditEntry.objects.count() == before
    assert balance(user) == 2


def test_hold_then_settle_charges_once_and_release_after_settle_is_a_no_op(user):
    grant(user, 5)
    services.credits_hold(user=user, amount=3, reference="job:1")
    services.credits_hold(user=user, amount=3, reference="job:1")  # same reference: no-op
    account = CreditAccount.objects.get(user=user)
    assert balance(user) == 2 and credits_held(account=account) == 3
    services.credits_settle(reference="job:1")
    services.credits_settle(reference="job:1")
    services.credits_release(reference="job:1")
    assert balance(user) == 2 == ledger_sum(user)
    assert credits_held(account=account) == 0
    kinds = list(CreditEntry.objects.filter(reference="job:1").order_by("id").values_list("kind", "amount"))
    assert kinds == [("hold", -3), ("settle", 0)]


def test_release_returns_the_hold_once_and_settle_after_release_is_a_no_op(user):
    grant(user, 5)
    services.credits_hold(user=user, amount=4, reference="job:2")
    services.credits_release(reference="job:2")
    services.credits_release(reference="job:2")
    services.credits_settle(reference="job:2")
    assert balance(user) == 5 == ledger_sum(user)
    assert list(CreditEntry.objects.filter(reference="job:2").order_by("id").values_list("kind", flat=True)) == ["hold", "release"]


def test_settle_or_release_without_a_hold_does_nothing(user):
    services.credits_settle(reference="job:none")
    services.credits_release(reference="job:none")
    assert not CreditEntry.objects.filter(reference="job:none").exists()


def test_a_hold_that_would_overdraw_is_refused_with_nothing_written(user):
    grant(user, 2)
    with pytest.raises(services.InsufficientCredits):
        services.credits_hold(user=user, amount=3, reference="job:3")
    assert not CreditEntry.objects.filter(reference="job:3").exists()
    assert balance(user) == 2
    services.credits_hold(user=user, amount=0, reference="job:free")  # amount 0: no-op
    assert not CreditEntry.objects.filter(reference="job:free").exists()


def test_a_refused_hold_inside_the_callers_transaction_leaves_it_usable(user):
    grant(user, 1)
    with transaction.atomic():
        with pytest.raises(services.InsufficientCredits):
            services.credits_hold(user=user, amount=5, reference="job:4")
        services.credits_hold(user=user, amount=1, reference="job:5")
    assert balance(user) == 0
    assert CreditEntry.objects.filter(reference="job:5", kind=EntryKind.HOLD).exists()


def test_a_hold_rolled_back_with_the_callers_transaction_leaves_no_trace(user):
    grant(user, 3)
    with pytest.raises(RuntimeError), transaction.atomic():
        services.credits_hold(user=user, amount=2, reference="job:6")
        raise RuntimeError("job creation failed")
    assert balance(user) == 3 and not CreditEntry.objects.filter(reference="job:6").exists()


def test_anonymous_holds_spend_the_free_credits_of_the_client_ip(db, settings):
    settings.DEFAULT_FREE_CREDITS = 3
    services.credits_hold(user=None, client_ip="203.0.113.9", amount=2, reference="job:anon")
    account = CreditAccount.objects.get(client_ip="203.0.113.9")
    assert account.balance == 1
    with pytest.raises(services.InsufficientCredits):
        services.credits_hold(user=None, client_ip="203.0.113.9", amount=2, reference="job:anon2")
    services.credits_release(reference="job:anon")
    account.refresh_from_db()
    assert account.balance == 3
    assert CreditEntry.objects.filter(account=account, kind=EntryKind.GRANT).count() == 1


def test_refund_after_spending_goes_below_zero_and_blocks_spending_until_topped_up(user):
    services.credits_purchase(user=user, amount=5, reference="payment:p1", reason="pack")
    services.credits_consume(user=user, amount=4)
    services.credits_refund(user=user, amount=5, reference="payment:p1", reason="refund")
    services.credits_refund(user=user, amount=5, reference="payment:p1", reason="refund")
    assert balance(user) == -4 == ledger_sum(user)
    with pytest.raises(services.InsufficientCredits):
        services.credits_consume(user=user, amount=1)
    with pytest.raises(services.InsufficientCredits):
        services.credits_hold(user=user, amount=1, reference="job:7")
    services.credits_purchase(user=user, amount=10, reference="payment:p2", reason="pack")
    services.credits_hold(user=user, amount=1, reference="job:7")
    assert balance(user) == 5 == ledger_sum(user)


def test_adjustment_needs_staff_and_a_reason(user):
    staff = adjusting_staff()
    account = services.credit_account_for(user=user)
    with pytest.raises(PermissionDenied):
        services.credits_adjust(account=account, amount=5, reason="goodwill", staff_user=user)
    with pytest.raises(ValidationError):
        services.credits_adjust(account=account, amount=5, reason="  ", staff_user=staff)
    with pytest.raises(ValidationError):
        services.credits_adjust(account=account, amount=0, reason="nothing", staff_user=staff)
    assert not CreditEntry.objects.exists()
    services.credits_adjust(account=account, amount=-2, reason="duplicate grant", staff_user=staff)
    entry = CreditEntry.objects.get()
    assert (entry.kind, entry.amount, entry.reason, entry.created_by) == ("adjustment", -2, "duplicate grant", staff)
    assert balance(user) == -2


def test_price_quote_reads_the_price_registry(prices):
    prices(film=5, thumbnail=1)
    assert services.price_quote(item="film") == 5
    assert services.price_quote(item="thumbnail", quantity=4) == 4
    with pytest.raises(ValueError):
        services.price_quote(item="hologram")
    with pytest.raises(ValueError):
        services.price_quote(item="film", quantity=-1)


def test_ledger_rows_are_append_only(user):
    grant(user, 1)
    entry = CreditEntry.objects.get()
    entry.amount = 100
    with pytest.raises(AppendOnly):
        entry.save()
    with pytest.raises(AppendOnly):
        entry.delete()


def test_check_ledger_command_passes_and_catches_a_drifted_balance(user, capsys):
    grant(user, 4)
    services.credits_consume(user=user, amount=1)
    call_command("billing_check_ledger")
    assert "OK" in capsys.readouterr().out
    CreditAccount.objects.filter(user=user).update(balance=99)
    with pytest.raises(CommandError):
        call_command("billing_check_ledger")


def test_holds_ending_after_their_user_was_deleted_land_on_the_closed_account(user):
    """A job can finish while its owner deletes their account: the settle or release still
    finds the account (accounts are closed, never deleted), so no entry is left without one."""
    grant(user, 5)
    services.credits_hold(user=user, amount=2, reference="job:settled-late")
    services.credits_hold(user=user, amount=1, reference="job:released-late")
    user.delete()
    services.credits_settle(reference="job:settled-late")
    services.credits_release(reference="job:released-late")
    closed = CreditAccount.objects.get(user=None, client_ip=None)
    assert sorted(closed.entries.values_list("kind", flat=True)) == ["grant", "hold", "hold", "release", "settle"]
    assert closed.balance == 3
    call_command("billing_check_ledger")


def test_check_ledger_command_catches_an_entry_without_its_account(user, capsys):
    """The entry -> account link has no database constraint (hot-row locking); the check
    command is what finds a row written around the ledger service."""
    grant(user, 4)
    call_command("billing_check_ledger")
    with connection.cursor() as cursor:
        cursor.execute(f"INSERT INTO {CreditEntry._meta.db_table} (account_id, kind, amount, idempotency_key, reference, "
                       "reason, created_at) VALUES (987654321, 'grant', 5, 'stray', '', '', now())")
    with pytest.raises(CommandError, match="1 entries have no account"):
        call_command("billing_check_ledger")


def test_a_user_with_ledger_rows_and_payments_can_delete_their_account(user):
    from billing.models import Payment

    staff = adjusting_staff()
    grant(user, 5)
    services.credits_hold(user=user, amount=2, reference="job:8")
    payment = Payment.objects.create(user=user, purpose="credit_pack", reference="checkout:x", kind="checkout_session",
                                     amount_minor=500, currency="usd", credits=5)
    # A staff member's adjustment keeps its row when the staff account goes.
    services.credits_adjust(account=services.credit_account_for(user=user), amount=1, reason="x", staff_user=staff)
    response = bearer_client(user).delete("/api/v1/users/me")
    assert response.status_code == 204
    assert not CreditAccount.objects.filter(user_id=user.pk).exists()
    closed = CreditAccount.objects.get(user=None, client_ip=None)  # the ledger stays, with no owner
    assert closed.is_closed and "closed account" in str(closed)
    assert closed.balance == sum(closed.entries.values_list("amount", flat=True)) == 4
    payment.refresh_from_db()
    assert payment.user_id is None
    staff_account = services.credit_account_for(user=make_user())
    services.credits_adjust(account=staff_account, amount=1, reason="y", staff_user=staff)
    staff.delete()
    assert CreditEntry.objects.get(account=staff_account).created_by is None


def test_an_entry_whose_sign_contradicts_its_kind_is_refused_or_reported(user):
    """Kind and sign are not database constraints (they cost a third of a spend's server time):
    the model refuses a bad row, and the check command reports one written around it."""
    from django.db import IntegrityError

    from billing.models import KIND_SIGNS, amount_fits_kind

    assert set(KIND_SIGNS) == set(EntryKind)
    account = services.credit_account_for(user=user)
    grant(user, 4)
    for kind, amount in ((EntryKind.CONSUME, 5), (EntryKind.GRANT, -1), (EntryKind.SETTLE, 1),
                         (EntryKind.ADJUSTMENT, 0), ("gift", 1), (EntryKind.GRANT, None)):
        assert amount is None or not amount_fits_kind(kind, amount)
        with pytest.raises(IntegrityError):
            CreditEntry.objects.create(account=account, kind=kind, amount=amount, idempotency_key=f"bad:{kind}")
    assert all(amount_fits_kind(kind, amount) for kind, amount in (
        (EntryKind.RELEASE, 1), (EntryKind.HOLD, -1), (EntryKind.SETTLE, 0), (EntryKind.ADJUSTMENT, -3)))
    assert CreditEntry.objects.count() == 1
    call_command("billing_check_ledger")
    table = CreditEntry._meta.db_table
    with connection.cursor() as cursor:  # rows written around the model, with the balance kept
        for kind, amount in (("consume", 2), ("gift", 1), ("settle", 0), ("adjustment", -1)):
            cursor.execute(f"INSERT INTO {table} (account_id, kind, amount, idempotency_key, reference, reason, "
                           "created_at) VALUES (%s, %s, %s, %s, '', '', now())", [account.pk, kind, amount, f"raw:{kind}"])
        cursor.execute(f"UPDATE {CreditAccount._meta.db_table} SET balance = balance + 2 WHERE id = %s", [account.pk])
    with pytest.raises(CommandError, match=r"0 of 1 .*; 2 entries have an unknown kind or a sign"):
        call_command("billing_check_ledger")


def test_a_hold_on_a_held_reference_with_another_amount_or_account_is_a_409(user, other_user, settings):
    settings.DEFAULT_FREE_CREDITS = 3
    grant(user, 10)
    grant(other_user, 10)
    services.credits_hold(user=user, amount=3, reference="job:clash")
    services.credits_hold(user=user, amount=3, reference="job:clash")  # a true repeat: quiet no-op
    entries = CreditEntry.objects.count()
    for kwargs in ({"user": user, "amount": 4}, {"user": other_user, "amount": 3},
                   {"user": None, "client_ip": "203.0.113.77", "amount": 3}):
        with pytest.raises(Conflict) as caught:
            services.credits_hold(reference="job:clash", **kwargs)
        assert caught.value.status_code == 409
    assert (balance(user), balance(other_user)) == (7, 10)
    assert CreditEntry.objects.filter(kind=EntryKind.HOLD).count() == 1
    assert CreditEntry.objects.count() == entries


def test_a_client_key_of_255_characters_fits_the_ledger_key(user):
    grant(user, 10)
    key = "k" * 255
    first = services.credits_consume(user=user, amount=2, idempotency_key=key)
    again = services.credits_consume(user=user, amount=2, idempotency_key=key)
    other = services.credits_consume(user=user, amount=2, idempotency_key="k" * 254 + "x")
    assert (first.replayed, again.replayed, other.replayed) == (False, True, False)
    assert again.entry_id == first.entry_id
    assert balance(user) == 6 == ledger_sum(user)


def test_the_spend_and_settle_statements_are_prepared_once_per_connection(user):
    """The hot path's speed (bench/credits.py) rests on PostgreSQL planning these statements
    once per connection, not on every call."""
    grant(user, 20)
    for i in range(4):
        services.credits_consume(user=user, amount=1, reason="render")
        services.credits_hold(user=user, amount=1, reference=f"job:prepared-{i}")
        services.credits_settle(reference=f"job:prepared-{i}")
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements")
        prepared = [row[0] for row in cursor.fetchall()]
    assert any("WITH acct AS" in sql for sql in prepared), prepared
    assert any("'Charged '" in sql for sql in prepared), prepared
    assert balance(user) == ledger_sum(user) == 12


@pytest.mark.django_db(transaction=True)
def test_spends_survive_a_migration_that_changes_a_returned_column_type(user):
    """A prepared statement whose result columns changed type fails with "cached plan must not
    change result type" on every run until its connection goes; the prepared cursor re-prepares."""
    from django.db import connections

    grant(user, 10)
    for _ in range(3):
        services.credits_consume(user=user, amount=1)  # prepared on this connection
    migrator = connections.create_connection("default")  # a deploy's `migrate`, elsewhere
    try:
        with migrator.cursor() as cursor:
            cursor.execute(f"ALTER TABLE {CreditAccount._meta.db_table} ALTER COLUMN balance TYPE bigint")
        assert services.credits_consume(user=user, amount=1).balance == 6
    finally:
        with migrator.cursor() as cursor:
            cursor.execute(f"ALTER TABLE {CreditAccount._meta.db_table} ALTER COLUMN balance TYPE integer")
        migrator.close()
    assert services.credits_consume(user=user, amount=1).balance == 5
