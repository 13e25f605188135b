"""Reads: what a caller sees of credits and payments."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.conf import settings
from django.db.models import Sum
from django.shortcuts import get_object_or_404

from .models import CreditAccount, CreditEntry, EntryKind, Payment, PaymentPurpose
from .services.ledger import CreditPools, credit_account_for, credit_pools

RECENT_LINES = 20


@dataclass
class CreditSummary:
    authenticated: bool
    balance: int  # own credits when signed in, else the IP's free ones
    free_credits: int  # free credits left for the client IP
    held: int  # reserved by unfinished jobs, from the pools `credits` counts (already off it)
    credits: int  # what this caller can spend now (seed 002's figure): `credits_spendable`
    recent: list[CreditEntry] = field(default_factory=list)


def credit_packs() -> list[dict]:
    currency = settings.CREDIT_CURRENCY.lower()
    return [{"credits": credits, "price_minor": price, "currency": currency}
            for credits, price in sorted(settings.CREDIT_PACKS.items())]


def money_display(amount_minor: int, currency: str) -> str:
    return f"{amount_minor / 100:.2f} {currency.upper()}"


def credit_entries(*, account: CreditAccount):
    return CreditEntry.objects.filter(account=account).order_by("-created_at", "-id")


def credits_held(*, account: CreditAccount) -> int:
    ended = CreditEntry.objects.filter(account=account, kind__in=[EntryKind.SETTLE, EntryKind.RELEASE]).values("reference")
    total = (CreditEntry.objects.filter(account=account, kind=EntryKind.HOLD).exclude(reference__in=ended)
             .aggregate(total=Sum("amount"))["total"])
    return -(total or 0)


def credits_held_in_pools(*, pools: CreditPools) -> int:
    """What open holds keep off a caller's `credits`: those on its own account and on the free
    pool of its address. A hold drawn on the free credits lives only on the address's account
    (`free-hold:<ref>`, or `hold:<ref>` when the whole hold came from there), so it counts here
    as it counts in `credits`."""
    return sum(credits_held(account=account) for account in (pools.free, pools.own) if account is not None)


def credit_summary(*, user, client_ip: str | None, recent: int = RECENT_LINES) -> CreditSummary:
    """A new client IP is granted its free credits here, once (the first visit records it).
    `credits` is the same rule that consumes and holds spend by (`credits_spendable`)."""
    signed_in = bool(user is not None and user.is_authenticated)
    pools = credit_pools(user=user, client_ip=client_ip)
    account = pools.own if signed_in else pools.free
    if account is None:
        return CreditSummary(authenticated=False, balance=0, free_credits=0, held=0, credits=0)
    return CreditSummary(
        authenticated=signed_in,
        balance=account.balance,
        free_credits=pools.free.balance if pools.free else 0,
        held=credits_held_in_pools(pools=pools),
        credits=pools.spendable,
        recent=list(credit_entries(account=account)[:recent]),
    )


@dataclass(frozen=True)
class CreditBalances:
    balance: int  # own credits when signed in, else the IP's free ones
    credits: int  # what this caller can spend now (`credits_spendable`)


def credit_balances(*, user, client_ip: str | None) -> CreditBalances:
    """The two figures of `credit_summary`, without its history (after a consume)."""
    pools = credit_pools(user=user, client_ip=client_ip)
    account = pools.own if user is not None and user.is_authenticated else pools.free
    return CreditBalances(balance=account.balance if account else 0, credits=pools.spendable)


def credit_account_for_caller(*, user, client_ip: str | None) -> CreditAccount | None:
    if user is not None and user.is_authenticated:
        return credit_account_for(user=user)
    return credit_account_for(client_ip=client_ip) if client_ip else None


def payment_get_for_user(*, user, payment_id) -> Payment:
    """Another user's payment is indistinguishable from a missing one."""
    return get_object_or_404(Payment, pk=payment_id, user=user)


def credit_payments_for_user(*, user, limit: int = 20) -> list[Payment]:
    return list(Payment.objects.filter(user=user, purpose=PaymentPurpose.CREDIT_PACK).order_by("-created_at")[:limit])
