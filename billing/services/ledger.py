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

Whose credits a caller spends (`spend_plan`, the one rule behind `credits_spendable`, the
display, consumes and holds): an anonymous caller, the free credits of its client IP; a signed-in
caller, the free credits of its client IP first (granted once per address, never per account),
then its own balance. A movement that takes from one of them is the single-pool path above. One
that needs both (a split) takes both rows' locks, IP account first (every path that locks both
does it in that order), and writes two entries: the own part under the movement's key and the
free part under `free-<key>` on the IP account. Settle and release end both parts in one
statement that claims `hold-end:<reference>` first, so the free part goes back to the IP
account, exactly once.
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
from mozukai_hub.client_ip import client_ip_subject
from mozukai_hub.db import fetchone_prepared  # the hot statements are planned once per connection
from mozukai_hub.ids import uuid7

from ..models import CreditAccount, CreditEntry, EntryKind
from ..pricing import price_of, price_table

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
    balance: int | None  # balance of `account_id` right after this movement (None on a replay)
    replayed: bool


def price_quote(*, item: str, quantity: int = 1) -> int:
    """Credits for `quantity` units of `item`, from the price registry (`billing.pricing`, filled
    by the apps that sell things for credits). Unknown item or bad quantity: ValueError."""
    unit = price_of(item)
    if unit is None:
        raise ValueError(f"No price for {item!r}; known: {', '.join(sorted(price_table())) or 'none'}.")
    if isinstance(quantity, bool) or not isinstance(quantity, int) or quantity < 0:
        raise ValueError("quantity must be a whole number ≥ 0.")
    return unit * quantity


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
    creator wait and then find the committed account, so an address is granted once. The
    account is the address's subject (`client_ip_subject`): one IPv6 /64 is one visitor.
    """
    client_ip = client_ip_subject(client_ip)
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
    """A signed-in user's own account, otherwise the client IP's (created with its free credits)."""
    return _ensure_account(_owner_of(user=user, client_ip=client_ip))


def _signed_in(user) -> bool:
    return user is not None and getattr(user, "is_authenticated", False)


@dataclass(frozen=True)
class CreditPools:
    """What a caller may spend from: the client IP's free credits and, signed in, its own."""

    free: CreditAccount | None
    own: CreditAccount | None

    @property
    def spendable(self) -> int:
        plan_free = self.free.balance if self.free else 0
        plan_own = self.own.balance if self.own else 0
        return max(plan_free, 0) + max(plan_own, 0)


def spend_plan(*, free: int, own: int, amount: int) -> tuple[int, int] | None:
    """THE rule: how many of `amount` credits come from the free pool and how many from the
    caller's own balance (free first), or None when both together are short. A pool below zero
    (own credits after a refund) counts as empty."""
    free, own = max(free, 0), max(own, 0)
    if free + own < amount:
        return None
    take_free = min(free, amount)
    return take_free, amount - take_free


def credit_pools(*, user, client_ip: str | None) -> CreditPools:
    """The caller's pools, created on first sight (a new client IP is granted its free credits
    here, once per address; a second account from the same address finds them spent or not)."""
    free = _account_for_ip(client_ip) if client_ip else None
    own = _account_for_user(user) if _signed_in(user) else None
    return CreditPools(free=free, own=own)


def credits_spendable(*, user, client_ip: str | None) -> int:
    """How many credits this caller can spend now: what the display shows, what a consume or a
    hold of that many succeeds with (`spend_plan`)."""
    return credit_pools(user=user, client_ip=client_ip).spendable


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

# A signed-in caller with a client IP, when one pool covers the whole amount: the free credits
# if they do, else its own balance if the free ones are spent (the IP account's balance at or
# below zero). One statement, like `_SPEND_PG`; at most one of the two updates applies (`own`
# waits for `free` to have taken nothing). Anything else (a split, an account not created yet,
# a shortfall, a repeated key) writes nothing and is decided under row locks by `_spend_locked`.
_SPEND_POOLS_PG = f"""
WITH free AS (
    UPDATE {ACCOUNT} SET balance = balance - %(n)s, updated_at = statement_timestamp()
    WHERE client_ip = %(client_ip)s AND balance >= %(n)s
    RETURNING id, balance
), own AS (
    UPDATE {ACCOUNT} SET balance = balance - %(n)s, updated_at = statement_timestamp()
    WHERE user_id = %(user_id)s AND balance >= %(n)s
      AND NOT EXISTS (SELECT 1 FROM free)
      AND (SELECT balance FROM {ACCOUNT} WHERE client_ip = %(client_ip)s) <= 0
    RETURNING id, balance
), acct AS (
    SELECT id, balance FROM free UNION ALL SELECT id, balance FROM own
), ins AS (
    INSERT INTO {ENTRY} (account_id, kind, amount, idempotency_key, reference, reason, created_by_id, created_at)
    SELECT id, %(kind)s, -%(n)s, %(key)s, %(reference)s, %(reason)s, NULL, statement_timestamp() FROM acct
    RETURNING id, account_id
)
SELECT ins.id, ins.account_id, acct.balance FROM ins, acct
"""

FREE_PART = "free-"  # key prefix of the free-credit part of a split movement (`free-hold:<reference>`)

# Ends a hold: one end entry per part (`hold:<ref>`, and `free-hold:<ref>` for a split), the
# hold's own part first. Whoever inserts `hold-end:<ref>` first wins: a concurrent settle or
# release waits on that key, then inserts nothing (it never gets to the free part's key).
_END_HOLD = f"""
INSERT INTO {ENTRY} (account_id, kind, amount, idempotency_key, reference, reason, created_by_id, created_at)
SELECT account_id, %(kind)s, {{amount}},
       CASE WHEN idempotency_key = %(hold_key)s THEN %(end_key)s ELSE %(free_end_key)s END,
       reference, {{reason}}, NULL, {{now}}
FROM {ENTRY} WHERE idempotency_key IN (%(hold_key)s, %(free_hold_key)s)
ORDER BY idempotency_key = %(hold_key)s DESC
ON CONFLICT (idempotency_key) DO NOTHING
"""
_SETTLE_PG = _END_HOLD.format(amount="0", reason="'Charged ' || CAST(-amount AS TEXT) || ' held credits'",
                              now="statement_timestamp()")


def _end_hold_params(kind: str, reference: str) -> dict:
    return {"kind": str(kind), "hold_key": f"hold:{reference}", "end_key": f"hold-end:{reference}",
            "free_hold_key": f"{FREE_PART}hold:{reference}", "free_end_key": f"{FREE_PART}hold-end:{reference}"}


def _owner_of(*, user, client_ip: str | None) -> tuple[str, object]:
    """The account column and value a caller spends from (see `credit_account_for`)."""
    if user is not None and getattr(user, "is_authenticated", False):
        return "user_id", user.pk
    if not client_ip:
        raise ValidationError({"client_ip": ["The client address is unknown; free credits need it."]})
    return "client_ip", client_ip_subject(client_ip)


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


class _KeyTaken(Exception):
    """A split's entry lost its key to a concurrent twin: its transaction is rolled back."""


def _pools_replay(*, key: str, free_id: int, own_id: int, kind: str, amount: int) -> Movement | None:
    """The earlier movement under `key` (one entry, or a split's two), if it is this one."""
    parts = list(CreditEntry.objects.filter(idempotency_key__in=[key, FREE_PART + key])
                 .values("id", "account_id", "kind", "amount", "idempotency_key"))
    main = next((part for part in parts if part["idempotency_key"] == key), None)
    if main is None:
        return None
    if (any(part["kind"] != kind or part["account_id"] not in (free_id, own_id) for part in parts)
            or sum(part["amount"] for part in parts) != -amount):
        raise Conflict("This idempotency key was already used for a different credit movement.", code="idempotency_key_reused")
    return Movement(main["id"], main["account_id"], -amount, None, True)


def _spend_locked(*, free_id: int, own_id: int, kind: str, amount: int, key: str, reference: str,
                  reason: str) -> Movement:
    """Both pools under row locks (the IP account first): `spend_plan` decides, one entry per
    pool it takes from. Short: `InsufficientCredits`, nothing written."""
    with transaction.atomic():
        locked = CreditAccount.objects.select_for_update()
        free = locked.filter(pk=free_id).values_list("balance", flat=True).get()
        own = locked.filter(pk=own_id).values_list("balance", flat=True).get()
        plan = spend_plan(free=free, own=own, amount=amount)
        if plan is None:
            raise InsufficientCredits(needed=amount, balance=max(free, 0) + max(own, 0))
        take_free, take_own = plan
        parts = [(free_id, take_free, key if not take_own else FREE_PART + key), (own_id, take_own, key)]
        movement = None
        now, now_params = _timestamp()
        with connection.cursor() as cursor:
            for account_id, take, part_key in parts:
                if not take:
                    continue
                entry_id = _insert_entry(cursor, account_id=account_id, kind=kind, amount=-take, key=part_key,
                                         reference=reference, reason=reason)
                if entry_id is None:
                    raise _KeyTaken(part_key)
                cursor.execute(f"UPDATE {ACCOUNT} SET balance = balance - %s, updated_at = {now} WHERE id = %s "
                               f"RETURNING balance", [take, *now_params, account_id])
                if part_key == key:
                    movement = Movement(entry_id, account_id, -amount, cursor.fetchone()[0], False)
        return movement


def _spend_pools(*, user_id, client_ip: str, kind: str, amount: int, key: str, reference: str, reason: str,
                 may_replay: bool = True) -> Movement:
    """A signed-in caller with a client IP: the free credits of the address, then its own."""
    client_ip = client_ip_subject(client_ip)
    db = connections[DEFAULT_DB_ALIAS]
    if db.vendor == "postgresql":
        params = {"n": amount, "key": key, "kind": str(kind), "reference": reference, "reason": reason[:500],
                  "client_ip": client_ip, "user_id": user_id}
        try:
            if not db.in_atomic_block:
                row = fetchone_prepared(_SPEND_POOLS_PG, params, db)
            else:
                with transaction.atomic(using=db.alias):
                    row = fetchone_prepared(_SPEND_POOLS_PG, params, db)
        except IntegrityError:
            row = None  # the key exists: replayed below
        if row:
            return Movement(row[0], row[1], -amount, row[2], False)
    # A split, a first visit (accounts to create), a shortfall or a repeated key.
    free_id = _account_for_ip(client_ip).pk
    own_id = CreditAccount.objects.get_or_create(user_id=user_id)[0].pk
    if may_replay and (replayed := _pools_replay(key=key, free_id=free_id, own_id=own_id, kind=kind, amount=amount)):
        return replayed
    try:
        return _spend_locked(free_id=free_id, own_id=own_id, kind=kind, amount=amount, key=key, reference=reference,
                             reason=reason[:500])
    except _KeyTaken:
        # A concurrent twin wrote this key between our check and our insert: its movement stands.
        replayed = _pools_replay(key=key, free_id=free_id, own_id=own_id, kind=kind, amount=amount)
        if replayed is None:
            raise Conflict("This idempotency key was already used for a different credit movement.",
                           code="idempotency_key_reused") from None
        return replayed


def _spend_for(*, user, client_ip: str | None, kind: str, amount: int, key: str, reference: str, reason: str,
               may_replay: bool = True) -> Movement:
    """Spend as `spend_plan` says: one pool through `_spend`, both through `_spend_pools`."""
    if _signed_in(user) and client_ip:
        return _spend_pools(user_id=user.pk, client_ip=client_ip, kind=kind, amount=amount, key=key,
                            reference=reference, reason=reason, may_replay=may_replay)
    return _spend(owner=_owner_of(user=user, client_ip=client_ip), kind=kind, amount=amount, key=key,
                  reference=reference, reason=reason, may_replay=may_replay)


# --- The services --------------------------------------------------------------------------


def credits_consume(*, user=None, client_ip: str | None = None, amount: int, reason: str = "",
                    idempotency_key: str | None = None, reference: str = "") -> Movement:
    """Spend `amount` credits now: the client IP's free credits first, then a signed-in caller's
    own (`spend_plan`). Same `idempotency_key` again: the first result, nothing new."""
    _check_amount(amount)
    owner = _owner_of(user=user, client_ip=client_ip)
    key = (f"consume:{owner[0]}={owner[1]}:{client_key_digest(idempotency_key)}" if idempotency_key
           else f"consume:{uuid7()}")  # time-ordered: new keys append to the unique index
    return _spend_for(user=user, client_ip=client_ip, kind=EntryKind.CONSUME, amount=amount, key=key,
                      reference=reference, reason=reason,
                      may_replay=bool(idempotency_key))  # a fresh random key cannot have been used


def credits_hold(*, user, client_ip: str | None = None, amount: int, reference: str) -> None:
    """Reserve `amount` credits for `reference` (e.g. "job:<uuid>"), from the client IP's free
    credits first, then a signed-in caller's own (`spend_plan`; a hold may take from both, and
    each part goes back where it came from on release). Same reference, amount and caller
    again, or amount 0: nothing happens. The reference already held for another amount or
    account: `Conflict` (409)."""
    if amount == 0:
        return
    _check_amount(amount)
    if not reference:
        raise ValidationError({"reference": ["A hold needs a reference."]})
    key = f"hold:{reference}"
    try:
        # A repeat (or a concurrent twin) with the same amount and account replays quietly.
        _spend_for(user=user, client_ip=client_ip, kind=EntryKind.HOLD, amount=amount, key=key, reference=reference,
                   reason=f"Hold for {reference}")
    except Conflict as exc:
        raise Conflict(f"{reference} is already held for another amount or account.", code="hold_conflict") from exc


def credits_settle(*, reference: str) -> None:
    """The hold for `reference` becomes a charge (each part of a split hold gets its settle
    entry). Exactly once; no-op if none or already ended."""
    params = _end_hold_params(EntryKind.SETTLE, reference)
    db = connections[DEFAULT_DB_ALIAS]
    if db.vendor == "postgresql":
        fetchone_prepared(_SETTLE_PG, params, db)
        return
    with connection.cursor() as cursor:
        cursor.execute(_END_HOLD.format(amount="0", reason="'Charged ' || CAST(-amount AS TEXT) || ' held credits'",
                                        now="%(now)s"), {**params, "now": _now()})


def credits_release(*, reference: str) -> None:
    """The hold for `reference` is given back, each part to the account it came from (a split
    hold's free part to the IP account). Exactly once; no-op if none or already ended."""
    now, now_params = _timestamp()
    params = _end_hold_params(EntryKind.RELEASE, reference)
    with transaction.atomic(), connection.cursor() as cursor:
        if now_params:  # SQLite: the app's clock
            params["now"] = now_params[0]
        cursor.execute(_END_HOLD.format(amount="-amount", reason="'Hold released'", now="%(now)s" if now_params else now)
                       + " RETURNING account_id, amount, idempotency_key", params)
        # The IP account's part first: the order in which every path that locks both takes them.
        for account_id, amount, _ in sorted(cursor.fetchall(), key=lambda row: not row[2].startswith(FREE_PART)):
            cursor.execute(f"UPDATE {ACCOUNT} SET balance = balance + %s, updated_at = {now} WHERE id = %s",
                           [amount, *now_params, account_id])


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


def credit_account_close(*, user) -> CreditAccount | None:
    """Account deletion: the user's credit account loses its owner and keeps its ledger (see
    CreditAccount); nobody can spend from it again. None when the user never had one."""
    with transaction.atomic():
        account = CreditAccount.objects.select_for_update().filter(user=user).first()
        if account is not None:
            account.user = None
            account.save(update_fields=["user", "updated_at"])
    return account
