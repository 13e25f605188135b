"""Free credits: one rule (`credits_spendable` / `spend_plan`) for the display, consumes and holds.

A signed-in caller spends the free credits of its client IP first (granted once per address,
never per account), then its own balance; a hold that drew on free credits goes back there.
"""

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.core.management import call_command
from django.db import connection, connections
from rest_framework.test import APIClient

from accounts.tokens import token_pair_issue
from billing import services
from billing.models import CreditAccount, CreditEntry, EntryKind
from billing.selectors import credits_held
from mozukai_hub.api.errors import Conflict
from mozukai_hub.testing.fixtures import make_user

IP = "198.51.100.20"


def client_for(user=None, ip=IP) -> APIClient:
    client = APIClient(REMOTE_ADDR=ip)
    if user is not None:
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {token_pair_issue(user=user).access}")
    return client


def free(ip=IP) -> int:
    return CreditAccount.objects.get(client_ip=ip).balance


def own(user) -> int:
    return CreditAccount.objects.get(user=user).balance


def fund(user, amount):
    services.credits_grant(user=user, amount=amount, reason="test", idempotency_key=f"fund:{user.pk}:{amount}")


@pytest.fixture(autouse=True)
def _three_free_credits(settings):
    settings.DEFAULT_FREE_CREDITS = 3


@pytest.mark.django_db
def test_a_new_user_runs_a_text_to_3d_job_on_the_free_credits_they_are_shown(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")
    user = make_user()
    client = client_for(user)
    shown = client.get("/api/v1/credits").json()
    assert (shown["credits"], shown["balance"], shown["free_credits"]) == (3, 0, 3)
    page = client_for().get("/credits/")  # the page says the same to the same address
    assert b'data-testid="free-credits">3<' in page.content
    response = client.post("/api/v1/jobs", {"prompt": "a bonsai pot 120 mm wide, 40 mm tall", "output_format": "glb"},
                           format="json")
    assert response.status_code == 201, response.content
    reference = f"job:{response.json()['id']}"
    hold = CreditEntry.objects.get(kind=EntryKind.HOLD, reference=reference)
    assert hold.account.client_ip == IP and hold.amount == -1
    assert (free(), own(user)) == (2, 0)
    assert client.get("/api/v1/credits").json()["credits"] == 2
    consumed = client.post("/api/v1/credits/consume", {"amount": 2, "reason": "portrait"})
    assert consumed.status_code == 200 and consumed.json()["credits"] == 0
    assert client.post("/api/v1/credits/consume", {"amount": 1}).status_code == 402
    call_command("billing_check_ledger")


@pytest.mark.django_db
def test_a_job_held_on_the_free_credits_is_shown_as_held_until_it_ends(settings, tmp_path, client):
    settings.MEDIA_ROOT = str(tmp_path / "media")
    user = make_user()
    api = client_for(user)
    client.force_login(user)
    response = api.post("/api/v1/jobs", {"prompt": "a bonsai pot 120 mm wide, 40 mm tall", "output_format": "glb"},
                        format="json")
    assert response.status_code == 201, response.content
    reference = f"job:{response.json()['id']}"
    assert CreditEntry.objects.get(kind=EntryKind.HOLD, reference=reference).account.client_ip == IP
    shown = api.get("/api/v1/credits").json()
    assert (shown["credits"], shown["free_credits"], shown["balance"], shown["held"]) == (2, 2, 0, 1)
    page = client.get("/credits/", REMOTE_ADDR=IP)
    assert b'data-testid="credits">2<' in page.content and b'data-testid="held">1<' in page.content
    services.credits_settle(reference=reference)  # what the job's completion does with its hold
    shown = api.get("/api/v1/credits").json()
    assert (shown["credits"], shown["held"]) == (2, 0)
    assert b'data-testid="held"' not in client.get("/credits/", REMOTE_ADDR=IP).content


@pytest.mark.django_db
def test_a_split_hold_is_held_once_in_full_and_an_own_only_hold_too(client):
    user = make_user()
    fund(user, 5)
    services.credits_hold(user=user, client_ip=IP, amount=4, reference="job:split")  # 3 free + 1 own
    services.credits_hold(user=user, client_ip=IP, amount=2, reference="job:own-only")
    shown = client_for(user).get("/api/v1/credits").json()
    assert (shown["credits"], shown["held"]) == (2, 6)
    services.credits_release(reference="job:split")
    assert client_for(user).get("/api/v1/credits").json()["held"] == 2
    # An anonymous visitor at the address sees the free pool's holds as before.
    services.credits_hold(user=None, client_ip=IP, amount=1, reference="job:visitor")
    client.logout()
    assert b'data-testid="held">1<' in client.get("/credits/", REMOTE_ADDR=IP).content


@pytest.mark.django_db
def test_the_credits_page_shows_what_a_signed_in_user_can_spend(client):
    user = make_user()
    fund(user, 4)
    client.force_login(user)
    page = client.get("/credits/", REMOTE_ADDR=IP)
    assert b'data-testid="credits">7<' in page.content
    assert b'data-testid="free-credits">3<' in page.content and b'data-testid="balance">4<' in page.content
    services.credits_consume(user=user, client_ip=IP, amount=5)
    page = client.get("/credits/", REMOTE_ADDR=IP)
    assert b'data-testid="credits">2<' in page.content and b'data-testid="free-credits">0<' in page.content


@pytest.mark.django_db
def test_a_second_account_from_the_same_address_gets_no_new_free_credits():
    first, second = make_user(), make_user()
    assert client_for(first).post("/api/v1/credits/consume", {"amount": 3}).status_code == 200
    body = client_for(second).get("/api/v1/credits").json()
    assert (body["credits"], body["free_credits"], body["balance"]) == (0, 0, 0)
    response = client_for(second).post("/api/v1/jobs", {"prompt": "a bonsai pot 120 mm wide, 40 mm tall",
                                                        "output_format": "glb"}, format="json")
    assert response.status_code == 402
    assert response.json()["error"]["code"] == "insufficient_credits"
    assert client_for(second).post("/api/v1/credits/consume", {"amount": 1}).status_code == 402
    assert CreditEntry.objects.filter(kind=EntryKind.GRANT).count() == 1
    assert CreditAccount.objects.filter(client_ip=IP).count() == 1
    # Another address is another grant, whoever signs in from it.
    assert client_for(second, ip="198.51.100.21").get("/api/v1/credits").json()["credits"] == 3


@pytest.mark.django_db
def test_a_hold_on_free_credits_is_released_back_to_the_address():
    user = make_user()
    fund(user, 5)
    services.credits_hold(user=user, client_ip=IP, amount=2, reference="job:free-only")
    services.credits_hold(user=user, client_ip=IP, amount=2, reference="job:free-only")  # a repeat: no-op
    assert (free(), own(user)) == (1, 5)
    ip_account = CreditAccount.objects.get(client_ip=IP)
    assert credits_held(account=ip_account) == 2
    services.credits_release(reference="job:free-only")
    services.credits_release(reference="job:free-only")
    services.credits_settle(reference="job:free-only")
    assert (free(), own(user)) == (3, 5)
    assert credits_held(account=ip_account) == 0
    assert list(CreditEntry.objects.filter(reference="job:free-only").order_by("id").values_list(
        "account__client_ip", "kind", "amount")) == [(IP, "hold", -2), (IP, "release", 2)]
    call_command("billing_check_ledger")


@pytest.mark.django_db
def test_a_hold_once_free_credits_are_spent_comes_from_the_users_own_balance():
    user = make_user()
    fund(user, 5)
    services.credits_consume(user=user, client_ip=IP, amount=3)
    services.credits_hold(user=user, client_ip=IP, amount=2, reference="job:own")
    assert (free(), own(user)) == (0, 3)
    services.credits_release(reference="job:own")
    assert (free(), own(user)) == (0, 5)


@pytest.mark.django_db
def test_a_split_hold_settles_once_and_a_split_release_returns_each_part_where_it_came_from():
    user = make_user()
    fund(user, 10)
    services.credits_consume(user=user, client_ip=IP, amount=2)  # one free credit left
    assert services.credits_spendable(user=user, client_ip=IP) == 11
    services.credits_hold(user=user, client_ip=IP, amount=3, reference="job:split-settle")  # 1 free + 2 own
    services.credits_hold(user=user, client_ip=IP, amount=3, reference="job:split-settle")  # a repeat: no-op
    assert (free(), own(user)) == (0, 8)
    parts = {row[0]: row[1:] for row in CreditEntry.objects.filter(reference="job:split-settle").values_list(
        "idempotency_key", "account__client_ip", "amount")}
    assert parts == {"hold:job:split-settle": (None, -2), "free-hold:job:split-settle": (IP, -1)}
    for _ in range(2):
        services.credits_settle(reference="job:split-settle")
    services.credits_release(reference="job:split-settle")  # after the settle: nothing
    assert (free(), own(user)) == (0, 8)
    ends = CreditEntry.objects.filter(reference="job:split-settle", kind__in=[EntryKind.SETTLE, EntryKind.RELEASE])
    assert sorted(ends.values_list("kind", "account__client_ip"), key=str) == [("settle", IP), ("settle", None)]
    assert credits_held(account=CreditAccount.objects.get(client_ip=IP)) == 0
    assert credits_held(account=CreditAccount.objects.get(user=user)) == 0

    # Another split, released: 1 free credit back to the address, 2 to the user.
    services.credits_grant(user=None, client_ip=IP, amount=1, reason="goodwill", idempotency_key="ip-one")
    services.credits_hold(user=user, client_ip=IP, amount=3, reference="job:split-release")
    assert (free(), own(user)) == (0, 6)
    with pytest.raises(services.InsufficientCredits) as short:
        services.credits_hold(user=user, client_ip=IP, amount=7, reference="job:too-much")
    assert short.value.extra == {"needed": 7, "balance": 6}
    for _ in range(2):
        services.credits_release(reference="job:split-release")
    services.credits_settle(reference="job:split-release")
    assert (free(), own(user)) == (1, 8)
    ends = CreditEntry.objects.filter(reference="job:split-release", kind__in=[EntryKind.SETTLE, EntryKind.RELEASE])
    assert sorted(ends.values_list("account__client_ip", "amount"), key=str) == [(IP, 1), (None, 2)]
    assert not CreditEntry.objects.filter(reference="job:too-much").exists()
    call_command("billing_check_ledger")


@pytest.mark.django_db
def test_a_repeated_or_conflicting_split_hold_writes_nothing_new(other_user):
    user = make_user()
    fund(user, 4)
    services.credits_consume(user=user, client_ip=IP, amount=2)
    services.credits_hold(user=user, client_ip=IP, amount=3, reference="job:split")
    fund(other_user, 10)
    services.credits_spendable(user=other_user, client_ip="203.0.113.50")  # that address's grant
    entries = CreditEntry.objects.count()
    for kwargs in ({"user": user, "client_ip": IP, "amount": 4}, {"user": other_user, "client_ip": "203.0.113.50", "amount": 3},
                   {"user": user, "client_ip": IP, "amount": 2}):
        with pytest.raises(Conflict):
            services.credits_hold(reference="job:split", **kwargs)
    assert CreditEntry.objects.count() == entries
    consume = services.credits_consume(user=user, client_ip=IP, amount=2, idempotency_key="split-consume")
    again = services.credits_consume(user=user, client_ip=IP, amount=2, idempotency_key="split-consume")
    assert (consume.replayed, again.replayed, again.entry_id) == (False, True, consume.entry_id)
    assert (free(), own(user)) == (0, 0)
    call_command("billing_check_ledger")


@pytest.mark.django_db
def test_a_refused_split_inside_the_callers_transaction_leaves_it_usable():
    from django.db import transaction

    user = make_user()
    fund(user, 1)
    with transaction.atomic():
        with pytest.raises(services.InsufficientCredits):
            services.credits_hold(user=user, client_ip=IP, amount=5, reference="job:refused")
        services.credits_hold(user=user, client_ip=IP, amount=4, reference="job:fits")  # 3 free + 1 own
    assert (free(), own(user)) == (0, 0)
    assert not CreditEntry.objects.filter(reference="job:refused").exists()


@pytest.mark.django_db
@pytest.mark.parametrize("funded, spent", [(0, 0), (0, 2), (4, 0), (4, 1), (4, 3), (4, 6), (2, 5)])
def test_what_is_shown_is_exactly_what_can_be_spent(funded, spent):
    user = make_user()
    if funded:
        fund(user, funded)
    if spent:
        services.credits_consume(user=user, client_ip=IP, amount=spent)
    client = client_for(user)
    shown = client.get("/api/v1/credits").json()["credits"]
    assert shown == services.credits_spendable(user=user, client_ip=IP) == 3 + funded - spent
    if shown:
        assert client.post("/api/v1/credits/consume", {"amount": shown}).json()["credits"] == 0
    assert client.post("/api/v1/credits/consume", {"amount": 1}).status_code == 402
    assert client.get("/api/v1/credits").json()["credits"] == 0


@pytest.mark.django_db
def test_a_negative_own_balance_does_not_hide_the_free_credits():
    user = make_user()
    services.credits_purchase(user=user, amount=5, reference="payment:p1", reason="pack")
    services.credits_consume(user=user, amount=4)  # no client IP: own credits only
    services.credits_refund(user=user, amount=5, reference="payment:p1", reason="refund")
    assert own(user) == -4
    assert services.credits_spendable(user=user, client_ip=IP) == 3
    services.credits_hold(user=user, client_ip=IP, amount=3, reference="job:free-despite-debt")
    with pytest.raises(services.InsufficientCredits):
        services.credits_consume(user=user, client_ip=IP, amount=1)
    assert (free(), own(user)) == (0, -4)


def _closing(fn):
    def run(*args):
        try:
            return fn(*args)
        finally:
            connections.close_all()

    return run


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_concurrent_spends_from_one_address_never_overdraw_either_pool(settings):
    """Three users behind one address (free 5) with own balances 2, 2 and 0 spend at once, in
    holds and consumes of 1–3 credits (splits among them), released together by a barrier."""
    assert connection.vendor == "postgresql"
    settings.DEFAULT_FREE_CREDITS = 5
    users = [make_user() for _ in range(3)]
    fund(users[0], 2)
    fund(users[1], 2)
    services.credits_spendable(user=None, client_ip=IP)  # the address's grant
    calls = 36
    start_together = threading.Barrier(calls)

    @_closing
    def spend(i):
        user, amount = users[i % 3], 1 + i % 3
        start_together.wait(timeout=60)
        try:
            if i % 2:
                services.credits_hold(user=user, client_ip=IP, amount=amount, reference=f"job:race-{i}")
            else:
                services.credits_consume(user=user, client_ip=IP, amount=amount)
            return amount
        except services.InsufficientCredits:
            return 0

    with ThreadPoolExecutor(max_workers=calls) as pool:
        spent = sum(pool.map(spend, range(calls)))
    balances = {account.client_ip or account.user_id: account.balance for account in CreditAccount.objects.all()}
    assert all(balance >= 0 for balance in balances.values()), balances
    assert spent == 9 - sum(balances.values())  # 5 free + 2 + 2 own, nothing more
    taken = CreditEntry.objects.filter(kind__in=[EntryKind.HOLD, EntryKind.CONSUME]).values_list("amount", flat=True)
    assert -sum(taken) == spent
    assert CreditEntry.objects.filter(idempotency_key__startswith="free-").exists()  # splits happened
    call_command("billing_check_ledger")

    # Every hold ends once, each part on its own account, whatever races.
    references = list(CreditEntry.objects.filter(kind=EntryKind.HOLD).values_list("reference", flat=True).distinct())

    @_closing
    def end(i):
        reference = references[i % len(references)]
        (services.credits_settle if i % 3 == 0 else services.credits_release)(reference=reference)

    with ThreadPoolExecutor(max_workers=12) as pool:
        list(pool.map(end, range(4 * len(references))))
    holds = CreditEntry.objects.filter(kind=EntryKind.HOLD).count()
    assert CreditEntry.objects.filter(kind__in=[EntryKind.SETTLE, EntryKind.RELEASE]).count() == holds
    assert all(account.balance >= 0 for account in CreditAccount.objects.all())
    call_command("billing_check_ledger")


@pytest.mark.django_db
def test_one_ipv6_64_network_is_one_visitor_with_one_free_pool():
    """A subscriber gets a whole /64: every address in it is the same visitor, another /64 is not."""
    signed_in = make_user()
    assert client_for(ip="2001:db8:1:2::a").post("/api/v1/credits/consume", {"amount": 2}).status_code == 200
    # Another address of the same /64, anonymous or signed in: the same pool, 1 left.
    assert client_for(ip="2001:db8:1:2:ffff:1:2:3").get("/api/v1/credits").json()["credits"] == 1
    assert client_for(signed_in, ip="2001:db8:1:2::b").get("/api/v1/credits").json()["free_credits"] == 1
    assert client_for(ip="2001:db8:1:2::c").post("/api/v1/credits/consume", {"amount": 2}).status_code == 402
    assert services.credits_spendable(user=None, client_ip="2001:db8:1:2::d") == 1
    # A neighbouring /64 is another visitor with its own grant.
    assert client_for(ip="2001:db8:1:3::a").get("/api/v1/credits").json()["credits"] == 3
    assert sorted(CreditAccount.objects.filter(client_ip__isnull=False).values_list("client_ip", flat=True)) == [
        "2001:db8:1:2::", "2001:db8:1:3::"]
    assert CreditEntry.objects.filter(kind=EntryKind.GRANT).count() == 2


@pytest.mark.django_db
def test_an_ipv4_mapped_ipv6_address_is_its_ipv4_address():
    assert client_for(ip="::ffff:198.51.100.20").post("/api/v1/credits/consume", {"amount": 1}).status_code == 200
    assert free(IP) == 2 and client_for(ip=IP).get("/api/v1/credits").json()["credits"] == 2
    assert CreditAccount.objects.filter(client_ip__isnull=False).count() == 1
