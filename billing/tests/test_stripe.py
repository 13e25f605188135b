"""Stripe through the real `stripe` library against a local server that answers as Stripe
documents, and webhooks signed with Stripe's scheme."""

import time

import pytest

from billing import services
from billing.models import CreditAccount, CreditEntry, EntryKind, Payment, PaymentStatus, StripeEvent
from billing.payments import register_payment_handler
from billing.stripe_client import STRIPE_API_VERSION
from mozukai_hub.testing.fake_stripe import deliver, event
from mozukai_hub.testing.fixtures import bearer_client

from .conftest import billing_counts

pytestmark = pytest.mark.django_db


def start_checkout(user, pack=5, **headers) -> tuple[Payment, dict]:
    response = bearer_client(user).post("/api/v1/credits/checkout", {"pack": pack}, **headers)
    assert response.status_code == 201, response.content
    return Payment.objects.get(pk=response.json()["payment_id"]), response.json()


def balance(user) -> int:
    account = CreditAccount.objects.filter(user=user).first()
    return account.balance if account else 0


def test_checkout_creates_a_real_checkout_session_with_an_idempotency_key(user, stripe_server):
    payment, body = start_checkout(user, pack=10)
    [call] = stripe_server.calls("POST", "/v1/checkout/sessions")
    assert call["idempotency_key"] == f"checkout-session:{payment.pk}"
    assert call["stripe_version"] == STRIPE_API_VERSION
    params = call["params"]
    assert params["mode"] == "payment" and params["client_reference_id"] == str(payment.pk)
    assert params["line_items"][0]["price_data"] == {"currency": "usd", "unit_amount": "900", "product_data": {"name": "10 Mozukai credits"}}
    assert params["success_url"].endswith("/credits/success/?session_id={CHECKOUT_SESSION_ID}")
    assert params["metadata"]["payment_id"] == str(payment.pk)
    assert body["checkout_url"] == f"https://checkout.stripe.com/c/pay/{payment.stripe_id}"
    assert body["session_id"].startswith("cs_test_") and body["dev_mode"] is False


def test_signed_webhook_delivered_five_times_credits_once(user, stripe_server):
    payment, _ = start_checkout(user)
    session = stripe_server.pay_session(payment.stripe_id)
    completed = event("checkout.session.completed", session)
    for _ in range(5):
        response = deliver(completed)
        assert response.status_code == 200
        assert response.json()["status"] == "processed"
    assert StripeEvent.objects.count() == 1
    assert balance(user) == 5
    assert CreditEntry.objects.filter(kind=EntryKind.PURCHASE).count() == 1
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.SUCCEEDED and payment.payment_intent_id == session["payment_intent"]


@pytest.mark.parametrize("how", ["tampered", "unsigned", "stale", "wrong_secret", "garbage"])
def test_bad_signatures_are_400_with_zero_database_writes(user, stripe_server, how, django_assert_max_num_queries):
    payment, _ = start_checkout(user)
    completed = event("checkout.session.completed", stripe_server.pay_session(payment.stripe_id))
    before = billing_counts()
    with django_assert_max_num_queries(0):
        if how == "tampered":
            import json

            from mozukai_hub.testing.fake_stripe import sign

            signature = sign(json.dumps(completed), "whsec_test_mozukai")
            completed["data"]["object"]["amount_total"] = 1
            response = deliver(completed, signature=signature)
        elif how == "unsigned":
            response = deliver(completed, signature="")
        elif how == "stale":
            response = deliver(completed, timestamp=int(time.time()) - 301)
        elif how == "wrong_secret":
            response = deliver(completed, secret="whsec_someone_else")
        else:
            response = deliver(completed, signature="t=1,v1=nothex")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_signature"
    assert billing_counts() == before


def test_without_a_webhook_secret_every_delivery_is_refused(user, stripe_server, settings):
    settings.STRIPE_WEBHOOK_SECRET = ""
    response = deliver(event("payment_intent.succeeded", {"id": "pi_x", "object": "payment_intent"}), secret="")
    assert response.status_code == 400
    assert not StripeEvent.objects.exists()


def test_success_page_and_webhook_fulfil_through_one_path_once(user, stripe_server, client):
    payment, _ = start_checkout(user)
    session = stripe_server.pay_session(payment.stripe_id)
    client.force_login(user)
    page = client.get(f"/credits/success/?session_id={payment.stripe_id}")
    assert page.status_code == 200 and b"Thank you" in page.content
    assert balance(user) == 5
    assert deliver(event("checkout.session.completed", session)).status_code == 200
    assert deliver(event("payment_intent.succeeded", stripe_server.intents[session["payment_intent"]])).status_code == 200
    client.get(f"/credits/success/?session_id={payment.stripe_id}")
    assert balance(user) == 5
    assert CreditEntry.objects.filter(kind=EntryKind.PURCHASE).count() == 1


def test_success_page_before_payment_credits_nothing(user, stripe_server, client):
    payment, _ = start_checkout(user)
    client.force_login(user)
    page = client.get(f"/credits/success/?session_id={payment.stripe_id}")
    assert b"on its way" in page.content
    assert balance(user) == 0
    assert client.get("/credits/success/?session_id=cs_test_unknown").status_code == 404


def test_events_in_any_order_a_late_failure_does_not_undo_a_success(user, stripe_server):
    payment, _ = start_checkout(user)
    session = stripe_server.pay_session(payment.stripe_id)
    intent = stripe_server.intents[session["payment_intent"]]
    assert deliver(event("payment_intent.succeeded", intent)).status_code == 200  # before the session event
    assert deliver(event("payment_intent.payment_failed", {**intent, "status": "requires_payment_method"})).status_code == 200
    assert deliver(event("checkout.session.async_payment_failed", session)).status_code == 200
    assert deliver(event("checkout.session.completed", session)).status_code == 200
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.SUCCEEDED
    assert balance(user) == 5
    assert StripeEvent.objects.filter(status="processed").count() == 4


def test_async_payment_processing_then_succeeded(user, stripe_server):
    payment, _ = start_checkout(user)
    session = stripe_server.pay_session(payment.stripe_id)
    deliver(event("checkout.session.completed", {**session, "payment_status": "unpaid"}))
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.PROCESSING and balance(user) == 0
    deliver(event("checkout.session.async_payment_succeeded", session))
    assert balance(user) == 5


def test_refund_after_spending_takes_the_balance_below_zero(user, stripe_server):
    payment, _ = start_checkout(user)
    session = stripe_server.pay_session(payment.stripe_id)
    deliver(event("checkout.session.completed", session))
    services.credits_consume(user=user, amount=4)
    refunded = services.payment_refund(payment=payment, reason="customer asked")
    services.payment_refund(payment=payment, reason="twice")
    assert len(stripe_server.calls("POST", "/v1/refunds")) == 1
    assert stripe_server.calls("POST", "/v1/refunds")[0]["idempotency_key"] == f"refund:{payment.pk}"
    assert refunded.status == PaymentStatus.REFUNDED
    # Stripe's charge.refunded arrives afterwards: nothing more happens.
    deliver(event("charge.refunded", stripe_server.charge_for(session["payment_intent"])))
    assert balance(user) == -4
    assert CreditEntry.objects.filter(kind=EntryKind.REFUND).count() == 1
    with pytest.raises(services.InsufficientCredits):
        services.credits_hold(user=user, amount=1, reference="job:after-refund")


def test_charge_refunded_from_the_dashboard_claws_back_the_pack(user, stripe_server):
    payment, _ = start_checkout(user)
    session = stripe_server.pay_session(payment.stripe_id)
    deliver(event("charge.refunded", stripe_server.charge_for(session["payment_intent"])))  # even before the success
    deliver(event("checkout.session.completed", session))
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.REFUNDED
    assert balance(user) == 0
    assert list(CreditEntry.objects.order_by("id").values_list("kind", "amount")) == [("purchase", 5), ("refund", -5)]


class FlakyOrderHandler:
    def __init__(self):
        self.calls = []
        self.fail_next = True

    def on_succeeded(self, payment):
        if self.fail_next:
            self.fail_next = False
            raise RuntimeError("order service is down")
        self.calls.append(("succeeded", payment.reference))

    def on_failed(self, payment):
        self.calls.append(("failed", payment.reference))

    def on_refunded(self, payment):
        self.calls.append(("refunded", payment.reference))


@pytest.fixture
def flaky_order_handler():
    from billing import payments

    previous = payments._handlers.get("order")
    handler = FlakyOrderHandler()
    register_payment_handler("order", handler)
    yield handler
    if previous is None:
        payments._handlers.pop("order", None)
    else:
        payments._handlers["order"] = previous


def test_order_payment_intent_handler_failure_is_retried_on_redelivery(user, stripe_server, flaky_order_handler):
    handler = flaky_order_handler
    payment = services.payment_intent_create(user=user, purpose="order", reference="order:42", amount_minor=2500,
                                             currency="USD", description="Order 42")
    again = services.payment_intent_create(user=user, purpose="order", reference="order:42", amount_minor=2500, currency="usd")
    assert again.pk == payment.pk and len(stripe_server.calls("POST", "/v1/payment_intents")) == 1
    call = stripe_server.calls("POST", "/v1/payment_intents")[0]
    assert call["idempotency_key"] == "payment-intent:order:order:42"
    assert payment.client_secret.startswith(payment.stripe_id) and payment.currency == "usd"

    intent = stripe_server.confirm_intent(payment.stripe_id)
    succeeded = event("payment_intent.succeeded", intent)
    first = deliver(succeeded)
    assert first.status_code == 500 and first.json()["error"]["code"] == "webhook_failed"
    record = StripeEvent.objects.get()
    assert (record.status, record.attempts) == ("failed", 1) and "order service is down" in record.error
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.PENDING  # rolled back with the failure

    assert deliver(succeeded).status_code == 200  # Stripe delivers again: retried
    assert deliver(succeeded).status_code == 200  # and once more: acknowledged, not applied
    record.refresh_from_db()
    assert (record.status, record.attempts) == ("processed", 2)
    assert handler.calls == [("succeeded", "order:42")]
    deliver(event("payment_intent.payment_failed", intent))
    assert handler.calls == [("succeeded", "order:42")]

    services.payment_refund(payment=payment)
    assert handler.calls == [("succeeded", "order:42"), ("refunded", "order:42")]


def test_payment_intent_create_refuses_bad_input_and_conflicting_repeats(user, stripe_server, flaky_order_handler):
    from django.core.exceptions import ValidationError

    from mozukai_hub.api.errors import Conflict

    for kwargs in ({"purpose": "lottery"}, {"amount_minor": 0}, {"currency": "dollars"}, {"reference": ""}):
        with pytest.raises(ValidationError):
            services.payment_intent_create(**{"user": user, "purpose": "order", "reference": "order:1",
                                              "amount_minor": 100, "currency": "usd", **kwargs})
    assert not Payment.objects.exists() and not stripe_server.requests
    services.payment_intent_create(user=user, purpose="order", reference="order:1", amount_minor=100, currency="usd")
    with pytest.raises(Conflict):
        services.payment_intent_create(user=user, purpose="order", reference="order:1", amount_minor=999, currency="usd")


def test_stripe_errors_surface_as_502_and_the_payment_can_be_retried(user, stripe_server, settings):
    settings.STRIPE_SECRET_KEY = "sk_test_wrong"
    response = bearer_client(user).post("/api/v1/credits/checkout", {"pack": 5}, HTTP_IDEMPOTENCY_KEY="k")
    assert response.status_code == 502
    assert "Invalid API Key" in response.json()["error"]["message"]
    settings.STRIPE_SECRET_KEY = "sk_test_mozukai_51Hxyz"
    response = bearer_client(user).post("/api/v1/credits/checkout", {"pack": 5}, HTTP_IDEMPOTENCY_KEY="k")
    assert response.status_code == 201
    assert Payment.objects.count() == 1


def test_a_lost_create_answer_is_recovered_from_the_webhook(user, stripe_server):
    payment, _ = start_checkout(user)
    session = stripe_server.pay_session(payment.stripe_id)
    Payment.objects.filter(pk=payment.pk).update(stripe_id=None)  # as if Stripe's answer never reached us
    assert deliver(event("checkout.session.completed", session)).status_code == 200
    payment.refresh_from_db()
    assert payment.stripe_id == session["id"] and payment.status == PaymentStatus.SUCCEEDED
    assert balance(user) == 5
    foreign = {**session, "id": "cs_test_not_ours", "client_reference_id": "not-a-uuid", "metadata": {}}
    assert deliver(event("checkout.session.completed", foreign)).status_code == 200
    assert balance(user) == 5


class RecordingPackHandler:
    """The real credit-pack handler, with a record of what it was asked to do."""

    def __init__(self, real):
        self.real, self.calls = real, []

    def on_succeeded(self, payment):
        self.calls.append("succeeded")
        self.real.on_succeeded(payment)

    def on_failed(self, payment):
        self.calls.append("failed")
        self.real.on_failed(payment)

    def on_refunded(self, payment):
        self.calls.append("refunded")
        self.real.on_refunded(payment)


@pytest.fixture
def pack_handler():
    from billing import payments

    real = payments._handlers["credit_pack"]
    recorder = RecordingPackHandler(real)
    payments._handlers["credit_pack"] = recorder
    yield recorder
    payments._handlers["credit_pack"] = real


def test_a_late_unpaid_completion_does_not_revive_a_failed_checkout(user, stripe_server, pack_handler):
    payment, _ = start_checkout(user)
    session = {**stripe_server.public(stripe_server.sessions[payment.stripe_id]), "status": "complete",
               "payment_status": "unpaid"}
    assert deliver(event("checkout.session.async_payment_failed", session)).status_code == 200
    assert deliver(event("checkout.session.completed", session)).status_code == 200  # arrives late
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.FAILED
    assert deliver(event("checkout.session.async_payment_failed", session)).status_code == 200  # a second copy
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.FAILED
    assert pack_handler.calls == ["failed"]
    assert balance(user) == 0


def test_a_pack_paid_after_its_buyer_left_is_refunded_once(user, stripe_server, caplog,
                                                            django_capture_on_commit_callbacks):
    payment, _ = start_checkout(user)
    session = stripe_server.pay_session(payment.stripe_id)
    user.delete()
    with caplog.at_level("WARNING", logger="billing"), django_capture_on_commit_callbacks(execute=True):
        assert deliver(event("checkout.session.completed", session)).status_code == 200
    with django_capture_on_commit_callbacks(execute=True):
        assert deliver(event("payment_intent.succeeded", stripe_server.intents[session["payment_intent"]])).status_code == 200
        assert deliver(event("checkout.session.completed", session)).status_code == 200
    [refund] = stripe_server.calls("POST", "/v1/refunds")
    assert refund["idempotency_key"] == f"refund:{payment.pk}"
    assert refund["params"]["payment_intent"] == session["payment_intent"]
    assert "deleted" in refund["params"]["metadata"]["reason"]
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.REFUNDED and payment.user_id is None
    assert not CreditEntry.objects.exists()
    assert any(r.levelname == "WARNING" and str(payment.pk) in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize("tolerance", [0, -1])
def test_a_webhook_tolerance_that_would_disable_the_replay_check_is_refused(user, stripe_server, settings, tolerance):
    from django.core.exceptions import ImproperlyConfigured

    payment, _ = start_checkout(user)
    completed = event("checkout.session.completed", stripe_server.pay_session(payment.stripe_id))
    settings.STRIPE_WEBHOOK_TOLERANCE = tolerance
    before = billing_counts()
    for timestamp in (int(time.time()) - 86400, None):  # a day-old replay, and a fresh delivery
        with pytest.raises(ImproperlyConfigured, match="STRIPE_WEBHOOK_TOLERANCE"):
            deliver(completed, timestamp=timestamp)
    assert billing_counts() == before
    assert balance(user) == 0
