"""The credit ledger: every movement is one append-only `CreditEntry` row.

`CreditAccount.balance` caches `sum(entry.amount)` for the account. Each movement writes its
entry and moves the balance in ONE atomic step, so the two never disagree:

* spending (consume, hold) is a conditional `UPDATE … SET balance = balance - n WHERE
  balance >= n`: the row lock it takes serialises concurrent spenders and nothing is written
  when the balance is short. On PostgreSQL the update and the entry insert are one statement
  (data-modifying CTEs), which keeps the hot path at one round trip;
* every entry carries a unique `idempotency_key`: repeating a call with the same key finds
  the entry and changes nothing (a concurrent repeat loses on the unique index and its whole
  statement rolls back);
* a hold ends exactly once: settle and release both write the key `hold-end:<reference>`,
  so whichever comes first wins and the other is a no-op.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import DEFAULT_DB_ALIAS, IntegrityError, connection, connections, transaction
from django.utils import timezone

from mozukai_hub.api.errors import Conflict, PaymentRequired
from mozukai_hub.db import fetchone_prepared  # the hot statements are planned once per connection
from mozukai_hub.ids import uuid7

from ..models import CreditAccount, CreditEntry, EntryKind

ENTRY = CreditEntry._meta.db_table
ACCOUNT = CreditAccount._meta.db_table
MAX_AMOUNT = 1_000_000


class InsufficientCredits(PaymentRequired):
    code = "insufficient_credits"

    def __init__(self, *, needed: int, balance: int):
        super().__init__(
            f"Insufficient credits: {needed} needed, {max(balance, 0)} available.",
            extra={"needed": needed, "balance": balance},
        )


@dataclass(frozen=True)
class Movement:
    entry_id: int
    account_id: int
    amount: int
    balance: int | None  # balance right after this movement (None on a replay)
    replayed: bool


def price_quote(*, item: str, quantity: int = 1) -> int:
    """Credits for `quantity` units of `item`, from the one price table (`CREDIT_PRICES`)."""
    prices = settings.CREDIT_PRICES
    if item not in prices:
        raise ValueError(f"No price for {item!r}; known: {', '.join(sorted(prices))}.")
    if isinstance(quantity, bool) or not isinstance(quantity, int) or quantity < 0:
        raise ValueError("quantity must be a whole number ≥ 0.")
    return prices[item] * quantity


def _check_amount(amount: int) -> None:
    if isinstance(amount, bool) or not isinstance(amount, int) or not 0 < amount <= MAX_AMOUNT:
        raise ValidationError({"amount": [f"Enter a whole number of credits from 1 to {MAX_AMOUNT}."]})


def client_key_digest(idempotency_key: str) -> str:
    """A client's `Idempotency-Key` (up to 255 characters) as 64 hex digits, so the keys we
    derive from it (a prefix plus the key) still fit their 255-character columns."""
    return hashlib.sha256(idempotency_key.encode()).hexdigest()


def _now():
    return connection.ops.adapt_datetimefield_value(timezone.now())


def _timestamp() -> tuple[str, list]:
    """SQL (and params) for the time of a ledger row: on PostgreSQL the database's
    `statement_timestamp()`, so every entry's time comes from one clock whichever app server
    wrote it (the history is ordered by it); elsewhere (SQLite) the app's clock."""
    if connection.vendor == "postgresql":
        return "statement_timestamp()", []
    return "%s", [_now()]


# --- Accounts ------------------------------------------------------------------------------


def _account_for_ip(client_ip: str) -> CreditAccount:
    """The anonymous account of `client_ip`, created with its free credits the first time.

    Creation and grant are one transaction; the unique `client_ip` makes a concurrent
    creator wait and then find the committed account, so an address is granted once.
    """
    account = CreditAccount.objects.filter(client_ip=client_ip).first()
    if account is not None:
        return account
    try:
        with transaction.atomic():
            account = CreditAccount.objects.create(client_ip=client_ip)
            free = settings.DEFAULT_FREE_CREDITS
            if free > 0:
                _credit(account_id=account.pk, kind=EntryKind.GRANT, amount=free, key=f"free-ip:{client_ip}",
                        reference=f"ip:{client_ip}", reason="Free credits for a new visitor")
                account.balance = free
    except IntegrityError:
        account = CreditAccount.objects.get(client_ip=client_ip)
    return account


def _account_for_user(user) -> CreditAccount:
    account, _ = CreditAccount.objects.get_or_create(user=user)
    return account


def credit_account_for(*, user=None, client_ip: str | None = None) -> CreditAccount:
    """Whose credits a caller spends: a signed-in user's own, otherwise the client IP's."""
    return _ensure_account(_owner_of(user=user, client_ip=client_ip))


# --- Low-level movements -------------------------------------------------------------------


def _user_id_value(user_id):
    """A user's UUID primary key as this database stores it (SQLite keeps UUIDs as text)."""
    return CreditEntry._meta.get_field("created_by").get_db_prep_value(user_id, connection)


def _insert_entry(cursor, *, account_id: int, kind: str, amount: int, key: str, reference: str, reason: str,
                  created_by_id=None) -> int | None:
    now, now_params = _timestamp()
    cursor.execute(
        f"INSERT INTO {ENTRY} (account_id, kind, amount, idempotency_key, reference, reason, created_by_id, created_at) "
        f"VALUES (%s, %s, %s, %s, %s, %s, %s, {now}) ON CONFLICT (idempotency_key) DO NOTHING RETURNING id",
        [account_id, kind, amount, key, reference, reason[:500], _user_id_value(created_by_id), *now_params],
    )
    row = cursor.fetchone()
    return row[0] if row else None


def _replay(key: str, *, account_id: int, kind: str, amount: int) -> Movement:
    entry = CreditEntry.objects.filter(idempotency_key=key).values("id", "account_id", "kind", "amount").first()
    if entry is None:
        raise RuntimeError(f"ledger entry {key!r} vanished")  # only a deleted owner can do that
    if entry["account_id"] != account_id or entry["kind"] != kind or entry["amount"] != amount:
        raise Conflict("This idempotency key was already used for a different credit movement.", code="idempotency_key_reused")
    return Movement(entry["id"], entry["account_id"], entry["amount"], None, True)


def _credit(*, account_id: int, kind: str, amount: int, key: str, reference: str = "", reason: str = "",
            created_by_id=None) -> Movement:
    """Add `amount` (signed; negative only for refunds/adjustments, never checked against funds)."""
    with transaction.atomic(), connection.cursor() as cursor:
        entry_id = _insert_entry(cursor, account_id=account_id, kind=kind, amount=amount, key=key, reference=reference,
                                 reason=reason, created_by_id=created_by_id)
        if entry_id is None:
            return _replay(key, account_id=account_id, kind=kind, amount=amount)
        now, now_params = _timestamp()
        cursor.execute(f"UPDATE {ACCOUNT} SET balance = balance + %s, updated_at = {now} WHERE id = %s RETURNING balance",
                       [amount, *now_params, account_id])
        return Movement(entry_id, account_id, amount, cursor.fetchone()[0], False)


_SPEND_PG = f"""
WITH acct AS (
    UPDATE {ACCOUNT} SET balance = balance - %(n)s, updated_at = statement_timestamp()
    WHERE {{owner}} = %(owner)s AND balance >= %(n)s
    RETURNING id, balance
), ins AS (
    INSERT INTO {ENTRY} (account_id, kind, amount, idempotency_key, reference, reason, created_by_id, created_at)
    SELECT id, %(kind)s, -%(n)s, %(key)s, %(reference)s, %(reason)s, NULL, statement_timestamp() FROM acct
    RETURNING id, account_id
)
SELECT ins.id, ins.account_id, acct.balance FROM ins, acct
"""
_SPEND_PG_BY = {column: _SPEND_PG.replace("{owner}", column) for column in ("user_id", "client_ip")}

_SETTLE_PG = f"""
INSERT INTO {ENTRY} (account_id, kind, amount, idempotency_key, reference, reason, created_by_id, created_at)
SELECT account_id, %(kind)s, 0, %(end_key)s, reference, 'Charged ' || CAST(-amount AS TEXT) || ' held credits', NULL, statement_timestamp()
FROM {ENTRY} WHERE idempotency_key = %(hold_key)s
ON CONFLICT (idempotency_key) DO NOTHING
"""


def _owner_of(*, user, client_ip: str | None) -> tuple[str, object]:
    """The account column and value a caller spends from (see `credit_account_for`)."""
    if user is not None and getattr(user, "is_authenticated", False):
        return "user_id", user.pk
    if not client_ip:
        raise ValidationError({"client_ip": ["The client address is unknown; free credits need it."]})
    return "client_ip", client_ip


def _ensure_account(owner: tuple[str, object]) -> CreditAccount:
    column, value = owner
    if column == "user_id":
        return CreditAccount.objects.get_or_create(user_id=value)[0]
    return _account_for_ip(value)


def _spend_statement(db, owner: tuple[str, object], params: dict) -> tuple | None:
    """PostgreSQL: find the account, take the credits and write the entry in one statement."""
    params["owner"] = owner[1]
    try:
        if not db.in_atomic_block:  # one statement is atomic by itself
            return fetchone_prepared(_SPEND_PG_BY[owner[0]], params, db)
        # Inside a caller's transaction a savepoint keeps a lost unique-key race from
        # aborting the caller's work.
        with transaction.atomic(using=db.alias):
            return fetchone_prepared(_SPEND_PG_BY[owner[0]], params, db)
    except IntegrityError:
        # The key exists (a repeat, or a concurrent twin won): the unique index refused the
        # entry and the whole statement, balance update included, was undone.
        return None


def _spend_generic(owner: tuple[str, object], params: dict) -> tuple | None:
    """Other databases (SQLite): the same steps in one transaction, entry first."""
    column, value = owner
    account_id = CreditAccount.objects.filter(**{column: value}).values_list("id", flat=True).first()
    if account_id is None:
        return None  # like the PostgreSQL statement: `_spend` decides what a missing account means
    with transaction.atomic(), connection.cursor() as cursor:
        entry_id = _insert_entry(cursor, account_id=account_id, kind=params["kind"], amount=-params["n"],
                                 key=params["key"], reference=params["reference"], reason=params["reason"])
        if entry_id is None:
            return None
        cursor.execute(f"UPDATE {ACCOUNT} SET balance = balance - %s, updated_at = %s WHERE id = %s AND balance >= %s "
                       f"RETURNING balance", [params["n"], _now(), account_id, params["n"]])
        updated = cursor.fetchone()
        if updated is None:
            transaction.set_rollback(True)  # the entry goes too: nothing is written
            return None
        return entry_id, account_id, updated[0]


def _spend(*, owner: tuple[str, object], kind: str, amount: int, key: str, reference: str, reason: str,
           may_replay: bool = True) -> Movement:
    """Take `amount` off the owner's balance if it is there; nothing is written otherwise."""
    params = {"n": amount, "key": key, "kind": str(kind), "reference": reference, "reason": reason[:500]}
    db = connections[DEFAULT_DB_ALIAS]
    for first_try in (True, False):
        if db.vendor == "postgresql":
            row = _spend_statement(db, owner, params)
        else:
            row = _spend_generic(owner, params)
        if row:
            return Movement(row[0], row[1], -amount, row[2], False)
        # Nothing was written: this key was applied before, the account is new, or it is short.
        column, value = owner
        account = CreditAccount.objects.filter(**{column: value}).values("id", "balance").first()
        if may_replay and CreditEntry.objects.filter(idempotency_key=key).exists():
            if account is None:  # the key is taken, and by someone else: this caller has no account yet
                raise Conflict("This idempotency key was already used for a different credit movement.",
                               code="idempotency_key_reused")
            return _replay(key, account_id=account["id"], kind=kind, amount=-amount)
        if account is None and first_try:
            _ensure_account(owner)  # a new visitor's free credits are granted here
            continue
        break
    raise InsufficientCredits(needed=amount, balance=account["balance"] if account else 0)


# --- The services --------------------------------------------------------------------------


def credits_consume(*, user=None, client_ip: str | None = None, amount: int, reason: str = "",
                    idempotency_key: str | None = None, reference: str = "") -> Movement:
    """Spend `amount` credits now. Same `idempotency_key` again: the first result, nothing new."""
    _check_amount(amount)
    owner = _owner_of(user=user, client_ip=client_ip)
    key = (f"consume:{owner[0]}={owner[1]}:{client_key_digest(idempotency_key)}" if idempotency_key
           else f"consume:{uuid7()}")  # time-ordered: new keys append to the unique index
    return _spend(owner=owner, kind=EntryKind.CONSUME, amount=amount, key=key, reference=reference, reason=reason,
                  may_replay=bool(idempotency_key))  # a fresh random key cannot have been used


def credits_hold(*, user, client_ip: str | None = None, amount: int, reference: str) -> None:
    """Reserve `amount` credits for `reference` (e.g. "job:<uuid>"); `user=None` spends the
    client IP's free credits. Same reference, amount and account again, or amount 0: nothing
    happens. The reference already held for another amount or account: `Conflict` (409)."""
    if amount == 0:
        return
    _check_amount(amount)
    if not reference:
        raise ValidationError({"reference": ["A hold needs a reference."]})
    key = f"hold:{reference}"
    owner = _owner_of(user=user, client_ip=client_ip)
    try:
        # A repeat (or a concurrent twin) with the same amount and account replays quietly.
        _spend(owner=owner, kind=EntryKind.HOLD, amount=amount, key=key, reference=reference,
               reason=f"Hold for {reference}")
    except Conflict as exc:
        raise Conflict(f"{reference} is already held for another amount or account.", code="hold_conflict") from exc


def credits_settle(*, reference: str) -> None:
    """The hold for `reference` becomes a charge. Exactly once; no-op if none or already ended."""
    params = {"kind": str(EntryKind.SETTLE), "end_key": f"hold-end:{reference}", "hold_key": f"hold:{reference}"}
    db = connections[DEFAULT_DB_ALIAS]
    if db.vendor == "postgresql":
        fetchone_prepared(_SETTLE_PG, params, db)
        return
    with connection.cursor() as cursor:
        cursor.execute(_SETTLE_PG.replace("statement_timestamp()", "%(now)s"), {**params, "now": _now()})


def credits_release(*, reference: str) -> None:
    """The hold for `reference` is given back. Exactly once; no-op if none or already ended."""
    now, now_params = _timestamp()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {ENTRY} (account_id, kind, amount, idempotency_key, reference, reason, created_by_id, created_at) "
            f"SELECT account_id, %s, -amount, %s, reference, 'Hold released', NULL, {now} "
            f"FROM {ENTRY} WHERE idempotency_key = %s ON CONFLICT (idempotency_key) DO NOTHING RETURNING account_id, amount",
            [EntryKind.RELEASE, f"hold-end:{reference}", *now_params, f"hold:{reference}"],
        )
        row = cursor.fetchone()
        if row:
            cursor.execute(f"UPDATE {ACCOUNT} SET balance = balance + %s, updated_at = {now} WHERE id = %s",
                           [row[1], *now_params, row[0]])


def credits_grant(*, user=None, client_ip: str | None = None, amount: int, reason: str, idempotency_key: str,
                  reference: str = "") -> Movement:
    """Give credits (promotions, support). Idempotent for the key."""
    _check_amount(amount)
    account = credit_account_for(user=user, client_ip=client_ip)
    return _credit(account_id=account.pk, kind=EntryKind.GRANT, amount=amount, key=f"grant:{idempotency_key}",
                   reference=reference, reason=reason)


def credits_purchase(*, user, amount: int, reference: str, reason: str) -> Movement:
    """Credits bought with money (`reference` names the payment). Credited once per reference."""
    _check_amount(amount)
    account = _account_for_user(user)
    return _credit(account_id=account.pk, kind=EntryKind.PURCHASE, amount=amount, key=f"purchase:{reference}",
                   reference=reference, reason=reason)


def credits_refund(*, user, amount: int, reference: str, reason: str) -> Movement:
    """Take back credits whose payment was refunded. May leave the balance below zero: then
    holds and consumes are refused until the account is topped up."""
    _check_amount(amount)
    account = _account_for_user(user)
    return _credit(account_id=account.pk, kind=EntryKind.REFUND, amount=-amount, key=f"refund:{reference}",
                   reference=reference, reason=reason)


def credits_adjust(*, account: CreditAccount, amount: int, reason: str, staff_user, idempotency_key: str | None = None) -> Movement:
    """A staff correction, up or down, always with a reason."""
    if not (staff_user and staff_user.is_active and staff_user.is_staff and staff_user.has_perm("billing.adjust_credits")):
        raise PermissionDenied("Only staff with the adjust_credits permission can adjust credits.")
    if isinstance(amount, bool) or not isinstance(amount, int) or amount == 0 or abs(amount) > MAX_AMOUNT:
        raise ValidationError({"amount": [f"Enter a non-zero whole number from -{MAX_AMOUNT} to {MAX_AMOUNT}."]})
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": ["Say why the credits are adjusted."]})
    key = f"adjust:{idempotency_key}" if idempotency_key else f"adjust:{uuid.uuid4()}"
    return _credit(account_id=account.pk, kind=EntryKind.ADJUSTMENT, amount=amount, key=key,
                   reason=reason, created_by_id=staff_user.pk)
