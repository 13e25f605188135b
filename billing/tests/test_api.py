import pytest
from django.core.management import call_command
from rest_framework.test import APIClient

from billing import services
from billing.models import CreditAccount, CreditEntry, EntryKind, IdempotentRequest, Payment
from mozukai_hub.testing.fixtures import bearer_client

from .conftest import billing_counts

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _no_free_credits(settings):
    """Signed-in callers here spend their own balance; a test that is about the free credits of
    the client IP (spent first) sets them itself."""
    settings.DEFAULT_FREE_CREDITS = 0


def anon(ip="203.0.113.5") -> APIClient:
    return APIClient(REMOTE_ADDR=ip)


def fund(user, amount=10):
    services.credits_grant(user=user, amount=amount, reason="test", idempotency_key=f"fund:{user.pk}:{amount}")


def test_anonymous_visitor_sees_three_free_credits_granted_once(settings):
    settings.DEFAULT_FREE_CREDITS = 3
    for _ in range(3):
        body = anon().get("/api/v1/credits").json()
    assert (body["authenticated"], body["balance"], body["free_credits"], body["credits"]) == (False, 3, 3, 3)
    assert [line["kind"] for line in body["recent"]] == ["grant"]
    assert [p["credits"] for p in body["packs"]] == [5, 10, 20]
    assert CreditEntry.objects.filter(kind=EntryKind.GRANT).count() == 1


def test_anonymous_consume_spends_free_credits_then_402_with_nothing_written(settings):
    settings.DEFAULT_FREE_CREDITS = 3
    client = anon()
    assert client.post("/api/v1/credits/consume", {"amount": 2, "reason": "portrait"}).json()["balance"] == 1
    before = billing_counts()
    response = client.post("/api/v1/credits/consume", {"amount": 2})
    assert response.status_code == 402
    assert response.json()["error"]["code"] == "insufficient_credits"
    assert billing_counts() == before
    # Another address has its own free credits.
    assert anon("203.0.113.6").post("/api/v1/credits/consume", {"amount": 3}).json()["balance"] == 0


def test_signed_in_caller_spends_the_free_ip_credits_first_then_their_own(user, auth_client, settings):
    settings.DEFAULT_FREE_CREDITS = 3
    fund(user, 5)
    response = auth_client.post("/api/v1/credits/consume", {"amount": 2, "reason": "film"})
    assert response.status_code == 200
    assert response.json() | {"entry_id": 0} == {"consumed": 2, "balance": 5, "credits": 6, "entry_id": 0}
    assert CreditAccount.objects.get(client_ip="127.0.0.1").balance == 1  # the free ones went first
    response = auth_client.post("/api/v1/credits/consume", {"amount": 3, "reason": "film"})  # 1 free + 2 own
    assert response.json()["balance"] == 3 and response.json()["credits"] == 3
    body = auth_client.get("/api/v1/credits").json()
    assert (body["authenticated"], body["balance"], body["free_credits"], body["credits"]) == (True, 3, 0, 3)
    assert [(line["kind"], line["amount"]) for line in body["recent"]] == [("consume", -2), ("grant", 5)]
    assert CreditAccount.objects.get(client_ip="127.0.0.1").balance == 0
    assert auth_client.post("/api/v1/credits/consume", {"amount": 4}).status_code == 402
    call_command("billing_check_ledger")


@pytest.mark.parametrize("payload", [{"amount": 0}, {"amount": -1}, {"amount": "two"}, {"amount": 1001},
                                     {"amount": 1, "extra": True}, {"reason": "x" * 501}])
def test_consume_bad_input_is_400_and_changes_nothing(user, auth_client, payload):
    fund(user)
    before = billing_counts()
    response = auth_client.post("/api/v1/credits/consume", payload, format="json")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "validation_error"
    assert billing_counts() == before


def test_idempotency_key_replays_the_first_response_and_refuses_another_body(user, auth_client):
    fund(user)
    headers = {"HTTP_IDEMPOTENCY_KEY": "order-123"}
    first = auth_client.post("/api/v1/credits/consume", {"amount": 2}, **headers)
    again = auth_client.post("/api/v1/credits/consume", {"amount": 2}, **headers)
    assert first.status_code == again.status_code == 200
    assert again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert CreditAccount.objects.get(user=user).balance == 8
    before = billing_counts()
    other = auth_client.post("/api/v1/credits/consume", {"amount": 3}, **headers)
    assert other.status_code == 422
    assert other.json()["error"]["code"] == "idempotency_key_reused"
    assert billing_counts() == before


def test_a_failed_attempt_frees_its_idempotency_key(user, auth_client):
    headers = {"HTTP_IDEMPOTENCY_KEY": "retry-me"}
    assert auth_client.post("/api/v1/credits/consume", {"amount": 2}, **headers).status_code == 402
    assert not IdempotentRequest.objects.exists()
    fund(user)
    assert auth_client.post("/api/v1/credits/consume", {"amount": 2}, **headers).status_code == 200
    assert CreditAccount.objects.get(user=user).balance == 8


def test_idempotency_keys_belong_to_their_caller(user, other_user, auth_client):
    fund(user)
    fund(other_user)
    headers = {"HTTP_IDEMPOTENCY_KEY": "same-key"}
    auth_client.post("/api/v1/credits/consume", {"amount": 1}, **headers)
    bearer_client(other_user).post("/api/v1/credits/consume", {"amount": 1}, **headers)
    assert CreditAccount.objects.get(user=user).balance == 9
    assert CreditAccount.objects.get(user=other_user).balance == 9


def test_checkout_needs_a_signed_in_caller_and_a_known_pack(auth_client, dev_payments):
    before = billing_counts()
    assert anon().post("/api/v1/credits/checkout", {"pack": 5}).status_code == 401
    for payload in ({"pack": 7}, {"pack": "five"}, {}, {"pack": 5, "price": 1}):
        response = auth_client.post("/api/v1/credits/checkout", payload, format="json")
        assert response.status_code == 400, payload
    assert billing_counts() == before


def test_checkout_in_dev_payment_mode_returns_a_local_checkout_page(user, auth_client, dev_payments):
    response = auth_client.post("/api/v1/credits/checkout", {"pack": 10})
    assert response.status_code == 201
    body = response.json()
    payment = Payment.objects.get()
    assert body["dev_mode"] is True and body["pack"] == 10 and body["amount_minor"] == 900
    assert body["checkout_url"] == f"http://testserver/credits/dev-checkout/{payment.pk}/"
    assert (payment.user, payment.status, payment.credits, payment.stripe_id) == (user, "pending", 10, f"dev_cs_{payment.pk.hex}")


def test_checkout_idempotency_key_makes_one_payment(auth_client, dev_payments):
    headers = {"HTTP_IDEMPOTENCY_KEY": "buy-once"}
    first = auth_client.post("/api/v1/credits/checkout", {"pack": 5}, **headers)
    again = auth_client.post("/api/v1/credits/checkout", {"pack": 5}, **headers)
    assert again.json() == first.json() and Payment.objects.count() == 1
    assert auth_client.post("/api/v1/credits/checkout", {"pack": 20}, **headers).status_code == 422
    assert Payment.objects.count() == 1


def test_checkout_without_stripe_or_dev_mode_is_503_and_stores_nothing(auth_client, no_dev_payments):
    response = auth_client.post("/api/v1/credits/checkout", {"pack": 5})
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "payments_unavailable"
    assert not Payment.objects.exists()


def test_checkout_status_of_another_users_session_is_404(user, other_user, dev_payments):
    bearer_client(user).post("/api/v1/credits/checkout", {"pack": 5})
    payment = Payment.objects.get()
    assert bearer_client(other_user).get(f"/api/v1/credits/checkout/{payment.stripe_id}").status_code == 404
    assert anon().get(f"/api/v1/credits/checkout/{payment.stripe_id}").status_code == 401
    assert bearer_client(user).get(f"/api/v1/credits/checkout/{payment.stripe_id}").json()["status"] == "pending"


def test_quote_and_packs(prices):
    prices(film=5, thumbnail=1)
    assert anon().get("/api/v1/credits/quote?item=thumbnail&quantity=4").json() == {"item": "thumbnail", "quantity": 4, "credits": 4}
    assert anon().get("/api/v1/credits/quote?item=unknown").status_code == 400
    assert anon().get("/api/v1/credits/quote?item=film&quantity=x").status_code == 400
    assert anon().get("/api/v1/credits/packs").json()[0] == {"credits": 5, "price_minor": 500, "currency": "usd"}


def test_history_is_paginated_and_only_the_callers(user, other_user, auth_client, django_assert_max_num_queries):
    fund(user)
    fund(other_user)
    for _ in range(3):
        services.credits_consume(user=user, amount=1)
    with django_assert_max_num_queries(8):
        response = auth_client.get("/api/v1/credits/history?page_size=2")
    assert response.status_code == 200
    assert response.headers["X-Total-Count"] == "4"
    assert [line["kind"] for line in response.json()] == ["consume", "consume"]


def test_old_idempotent_responses_are_purged(user, auth_client, capsys):
    from datetime import timedelta

    from django.core.management import call_command
    from django.utils import timezone

    fund(user)
    auth_client.post("/api/v1/credits/consume", {"amount": 1}, HTTP_IDEMPOTENCY_KEY="old")
    auth_client.post("/api/v1/credits/consume", {"amount": 1}, HTTP_IDEMPOTENCY_KEY="new")
    IdempotentRequest.objects.filter(key="old").update(created_at=timezone.now() - timedelta(days=8))
    call_command("billing_purge_idempotency", "--days", "7")
    assert list(IdempotentRequest.objects.values_list("key", flat=True)) == ["new"]
    assert "Deleted 1" in capsys.readouterr().out


def test_the_idempotency_purge_is_scheduled_daily():
    from django_q.models import Schedule

    schedule = Schedule.objects.get(name="Purge stored idempotent responses")
    assert schedule.func == "django.core.management.call_command"
    assert schedule.args == "'billing_purge_idempotency'" and schedule.schedule_type == Schedule.DAILY


def test_a_255_character_idempotency_key_works_and_replays(user, auth_client, dev_payments):
    fund(user)
    headers = {"HTTP_IDEMPOTENCY_KEY": "c" * 255}
    first = auth_client.post("/api/v1/credits/consume", {"amount": 2}, **headers)
    again = auth_client.post("/api/v1/credits/consume", {"amount": 2}, **headers)
    assert (first.status_code, again.status_code) == (200, 200), first.content
    assert again.json() == first.json() and again.headers["Idempotent-Replayed"] == "true"
    assert CreditAccount.objects.get(user=user).balance == 8

    headers = {"HTTP_IDEMPOTENCY_KEY": "p" * 255}
    first = auth_client.post("/api/v1/credits/checkout", {"pack": 5}, **headers)
    again = auth_client.post("/api/v1/credits/checkout", {"pack": 5}, **headers)
    assert (first.status_code, again.status_code) == (201, 201), first.content
    assert again.json() == first.json() and Payment.objects.count() == 1
    too_long = auth_client.post("/api/v1/credits/consume", {"amount": 1}, HTTP_IDEMPOTENCY_KEY="c" * 256)
    assert too_long.status_code == 400 and too_long.json()["error"]["code"] == "invalid_idempotency_key"
    assert CreditAccount.objects.get(user=user).balance == 8


def test_an_idempotency_key_replays_across_the_trailing_slash_spelling(user, auth_client):
    fund(user)
    headers = {"HTTP_IDEMPOTENCY_KEY": "slash-or-not"}
    first = auth_client.post("/api/v1/credits/consume", {"amount": 2}, **headers)
    again = auth_client.post("/api/v1/credits/consume/", {"amount": 2}, **headers)
    assert (first.status_code, again.status_code) == (200, 200), again.content
    assert again.headers["Idempotent-Replayed"] == "true" and again.json() == first.json()
    assert CreditAccount.objects.get(user=user).balance == 8
    # Another endpoint with the same key and method is another request.
    other = auth_client.post("/api/v1/credits/checkout/", {"amount": 2}, **headers)
    assert other.status_code == 422 and other.json()["error"]["code"] == "idempotency_key_reused"
