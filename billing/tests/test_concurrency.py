"""Money under concurrency, on PostgreSQL with real threads (each its own connection)."""

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection, connections
from django.test import Client

from accounts.tokens import token_pair_issue
from billing import services
from billing.models import CreditAccount, CreditEntry, EntryKind, Payment, StripeEvent
from mozukai_hub.testing.fake_stripe import deliver, event
from mozukai_hub.testing.fixtures import bearer_client, make_user

from .conftest import billing_counts

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

WORKERS = 10


def _closing(fn):
    def run(*args):
        try:
            return fn(*args)
        finally:
            connections.close_all()  # back to the pool: this thread's connection is not reused

    return run


@pytest.fixture
def pool():
    with ThreadPoolExecutor(max_workers=WORKERS) as executor:
        yield executor


def test_100_concurrent_consumes_on_a_balance_of_10_spend_exactly_10_twenty_times(unthrottled, settings):
    """100 threads, released together by a barrier each round (the app's connection pool then
    decides how many reach PostgreSQL at once, as in production). The client IP has no free
    credits here: every credit comes from the user's own balance."""
    assert connection.vendor == "postgresql"
    settings.DEFAULT_FREE_CREDITS = 0
    start_together = threading.Barrier(100)
    user = make_user()
    auth = f"Bearer {token_pair_issue(user=user).access}"
    account = services.credit_account_for(user=user)
    for round_no in range(20):
        services.credits_grant(user=user, amount=10, reason="round", idempotency_key=f"round:{round_no}")
        first_entry = CreditEntry.objects.order_by("-id").values_list("id", flat=True).first()

        @_closing
        def consume(i):
            client = Client()
            start_together.wait(timeout=60)
            response = client.post("/api/v1/credits/consume", {"amount": 1, "reason": f"r{round_no}-{i}"},
                                   content_type="application/json", HTTP_AUTHORIZATION=auth)
            return response.status_code, response.json()

        with ThreadPoolExecutor(max_workers=100) as hundred:
            results = list(hundred.map(consume, range(100)))
        statuses = sorted(status for status, _ in results)
        assert statuses.count(200) == 10, statuses
        assert statuses.count(402) == 90, statuses
        assert all(body["error"]["code"] == "insufficient_credits" for status, body in results if status == 402)
        account.refresh_from_db()
        entries = CreditEntry.objects.filter(account=account)
        assert account.balance == 0
        assert sum(entries.values_list("amount", flat=True)) == 0
        assert entries.filter(kind=EntryKind.CONSUME, id__gt=first_entry).count() == 10


def test_concurrent_holds_never_overdraw_and_each_ends_once(pool):
    user = make_user()
    services.credits_grant(user=user, amount=7, reason="t", idempotency_key="holds")

    @_closing
    def hold(i):
        try:
            services.credits_hold(user=user, amount=1, reference=f"job:{i % 10}")  # 5 callers per reference
            return "ok"
        except services.InsufficientCredits:
            return "short"

    results = list(pool.map(hold, range(50)))
    assert "short" in results  # 10 references, 7 credits
    holds = CreditEntry.objects.filter(kind=EntryKind.HOLD)
    assert holds.count() == 7
    refs = list(holds.values_list("reference", flat=True))

    @_closing
    def end(i):
        ref = refs[i % len(refs)]
        (services.credits_settle if i % 2 else services.credits_release)(reference=ref)

    list(pool.map(end, range(40)))
    account = CreditAccount.objects.get(user=user)
    assert CreditEntry.objects.filter(kind__in=[EntryKind.SETTLE, EntryKind.RELEASE]).count() == 7
    released = CreditEntry.objects.filter(kind=EntryKind.RELEASE).count()
    assert account.balance == released == sum(CreditEntry.objects.values_list("amount", flat=True))


def test_50_spoofed_forwarded_for_headers_from_one_socket_get_the_free_grant_once(pool, settings, unthrottled):
    settings.TRUSTED_PROXY_COUNT = 0
    settings.DEFAULT_FREE_CREDITS = 3

    @_closing
    def visit(i):
        response = Client(REMOTE_ADDR="198.51.100.7").get("/api/v1/credits", HTTP_X_FORWARDED_FOR=f"10.0.{i}.1")
        return response.status_code, response.json()["free_credits"]

    results = list(pool.map(visit, range(50)))
    assert results == [(200, 3)] * 50
    assert list(CreditAccount.objects.values_list("client_ip", "balance")) == [("198.51.100.7", 3)]
    assert CreditEntry.objects.filter(kind=EntryKind.GRANT).count() == 1
    assert billing_counts()["entries"] == 1


def test_a_signed_webhook_delivered_10_times_concurrently_credits_once(pool, stripe_server):
    user = make_user()
    response = bearer_client(user).post("/api/v1/credits/checkout", {"pack": 20})
    payment = Payment.objects.get(pk=response.json()["payment_id"])
    completed = event("checkout.session.completed", stripe_server.pay_session(payment.stripe_id))

    @_closing
    def post(i):
        return deliver(completed).status_code

    assert list(pool.map(post, range(10))) == [200] * 10
    assert StripeEvent.objects.count() == 1
    assert StripeEvent.objects.get().status == "processed"
    assert CreditAccount.objects.get(user=user).balance == 20
    assert CreditEntry.objects.filter(kind=EntryKind.PURCHASE).count() == 1
