"""Order payments through billing: dev payment mode, and Stripe as a local server that answers
as Stripe documents (billing's test server), with webhooks signed as Stripe signs them."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from billing.models import Payment, PaymentStatus
from catalog import tasks
from catalog.models import CancelReason, Order, OrderStatus, Product
from mozukai_hub.testing.fake_stripe import deliver, event
from mozukai_hub.testing.fixtures import bearer_client, make_user

from .factories import ProductFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def q_sync(monkeypatch):
    """django-q2 runs each enqueued task at once, in this thread (its documented sync mode)."""
    monkeypatch.setattr("django_q.conf.Conf.SYNC", True)


def place(client, product, quantity=1):
    response = client.post("/api/v1/orders", {"items": [{"product_id": product.pk, "quantity": quantity}]}, format="json")
    assert response.status_code == 201, response.json()
    return response.json()["id"]


def stripe_pays(fake, intent_id: str) -> dict:
    """The customer completes the Payment Element; Stripe marks the intent succeeded."""
    intent = fake.intents[intent_id]
    intent.update(status="succeeded", amount_received=intent["amount"])
    return intent


def test_dev_mode_checkout_confirms_through_the_handler(auth_client, dev_payments, django_capture_on_commit_callbacks):
    product = ProductFactory(price=Decimal("19.99"), stock_quantity=3)
    order_id = place(auth_client, product, 2)
    response = auth_client.post("/api/v1/payments/create-intent", {"order_id": order_id})
    assert response.status_code == 200, response.json()
    intent = response.json()
    assert intent["amount"] == 3998 and intent["currency"] == "usd" and intent["client_secret"] and intent["dev_mode"]
    again = auth_client.post("/api/v1/payments/create-intent", {"order_id": order_id}).json()
    assert again["id"] == intent["id"] and Payment.objects.count() == 1
    with django_capture_on_commit_callbacks() as callbacks:
        confirmed = auth_client.post("/api/v1/payments/confirm", {"payment_id": intent["id"]}).json()
    assert confirmed["status"] == "succeeded" and confirmed["order_status"] == "confirmed"
    assert len(callbacks) == 1  # the confirmation e-mail, after commit
    assert auth_client.get(f"/api/v1/payments/{intent['id']}").json()["status"] == "succeeded"
    assert auth_client.get(f"/api/v1/payments/{intent['payment_intent_id']}").json()["id"] == intent["id"]
    # Paying the same order twice is refused.
    response = auth_client.post("/api/v1/payments/create-intent", {"order_id": order_id})
    assert response.status_code == 409 and response.json()["error"]["code"] == "order_not_payable"
    product.refresh_from_db()
    assert product.stock_quantity == 1 and Order.objects.get().status == OrderStatus.CONFIRMED


def test_payments_are_private(api_client, auth_client, other_user, dev_payments):
    order_id = place(auth_client, ProductFactory())
    payment_id = auth_client.post("/api/v1/payments/create-intent", {"order_id": order_id}).json()["id"]
    other = bearer_client(other_user)
    assert other.post("/api/v1/payments/create-intent", {"order_id": order_id}).status_code == 404
    assert other.post("/api/v1/payments/confirm", {"payment_id": payment_id}).status_code == 404
    assert other.get(f"/api/v1/payments/{payment_id}").status_code == 404
    assert api_client.post("/api/v1/payments/create-intent", {"order_id": order_id}).status_code == 401
    assert api_client.get(f"/api/v1/payments/{payment_id}").status_code == 401
    assert auth_client.post("/api/v1/payments/create-intent", {"order_id": order_id, "amount": 1}).status_code == 400
    assert auth_client.post("/api/v1/payments/confirm", {}).status_code == 400
    assert Payment.objects.get().status == PaymentStatus.PENDING
    assert Order.objects.get().status == OrderStatus.PENDING


def test_expired_order_cannot_be_paid(auth_client, dev_payments):
    order_id = place(auth_client, ProductFactory())
    Order.objects.filter(pk=order_id).update(expires_at=timezone.now() - timedelta(minutes=1))
    response = auth_client.post("/api/v1/payments/create-intent", {"order_id": order_id})
    assert response.status_code == 409 and response.json()["error"]["code"] == "order_expired"
    assert Payment.objects.count() == 0


def test_stripe_webhook_confirms_and_confirm_rereads(auth_client, stripe_server):
    product = ProductFactory(price=Decimal("45.00"), stock_quantity=2)
    first, second = place(auth_client, product), place(auth_client, product)
    intent_a = auth_client.post("/api/v1/payments/create-intent", {"order_id": first}).json()
    intent_b = auth_client.post("/api/v1/payments/create-intent", {"order_id": second}).json()
    created = stripe_server.calls("POST", "/v1/payment_intents")
    assert [c["params"]["amount"] for c in created] == ["4500", "4500"]
    assert intent_a["client_secret"].startswith(intent_a["payment_intent_id"])
    # Before paying, confirm re-reads Stripe and changes nothing.
    assert auth_client.post("/api/v1/payments/confirm", {"payment_intent_id": intent_a["payment_intent_id"]}).json()["order_status"] == "pending"
    # The webhook is the source of truth...
    assert deliver(event("payment_intent.succeeded", stripe_pays(stripe_server, intent_a["payment_intent_id"]))).status_code == 200
    assert Order.objects.get(pk=first).status == OrderStatus.CONFIRMED
    assert Order.objects.get(pk=first).stripe_payment_intent_id == intent_a["payment_intent_id"]
    # ...and confirm reads the same outcome straight from Stripe when the webhook is late.
    stripe_pays(stripe_server, intent_b["payment_intent_id"])
    body = auth_client.post("/api/v1/payments/confirm", {"order_id": second}).json()
    assert body["status"] == "succeeded" and body["order_status"] == "confirmed"
    assert len(stripe_server.calls("GET", f"/v1/payment_intents/{intent_b['payment_intent_id']}")) == 1


def test_late_payment_after_expiry_and_resale_is_refunded_once(auth_client, stripe_server, q_sync, django_capture_on_commit_callbacks):
    bonsai = ProductFactory(name="Last shimpaku", stock_quantity=1)
    order_id = place(auth_client, bonsai)
    intent = auth_client.post("/api/v1/payments/create-intent", {"order_id": order_id}).json()
    # The customer walks away; the order expires and the tree is sold to someone else.
    Order.objects.filter(pk=order_id).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert tasks.orders_expire() == 1
    place(bearer_client(make_user()), bonsai)
    # Then the first payment succeeds after all.
    paid = stripe_pays(stripe_server, intent["payment_intent_id"])
    with django_capture_on_commit_callbacks(execute=True):
        assert deliver(event("payment_intent.succeeded", paid)).status_code == 200
    order = Order.objects.get(pk=order_id)
    assert (order.status, order.cancel_reason) == (OrderStatus.CANCELLED, CancelReason.EXPIRED)
    payment = Payment.objects.get(pk=intent["id"])
    assert payment.status == PaymentStatus.REFUNDED and payment.amount_refunded_minor == payment.amount_minor
    # Redelivery, a second event and a rerun of the task refund nothing more.
    with django_capture_on_commit_callbacks(execute=True):
        assert deliver(event("payment_intent.succeeded", paid)).status_code == 200
        tasks.order_payment_refund(order_id)
    assert len(stripe_server.calls("POST", "/v1/refunds")) == 1
    bonsai.refresh_from_db()
    assert bonsai.stock_quantity == 0 and Order.objects.filter(status=OrderStatus.PENDING).count() == 1


def test_staff_cancelling_a_paid_order_refunds_once_and_restocks(auth_client, staff_client, stripe_server, q_sync,
                                                                 django_capture_on_commit_callbacks):
    product = ProductFactory(stock_quantity=5)
    order_id = place(auth_client, product, 2)
    intent = auth_client.post("/api/v1/payments/create-intent", {"order_id": order_id}).json()
    with django_capture_on_commit_callbacks(execute=True):
        deliver(event("payment_intent.succeeded", stripe_pays(stripe_server, intent["payment_intent_id"])))
    with django_capture_on_commit_callbacks(execute=True):
        response = staff_client.put(f"/api/v1/orders/{order_id}/status", {"status": "cancelled"})
    assert response.status_code == 200 and response.json()["status"] == "cancelled"
    assert Payment.objects.get().status == PaymentStatus.REFUNDED
    assert len(stripe_server.calls("POST", "/v1/refunds")) == 1
    product.refresh_from_db()
    assert product.stock_quantity == 5


def test_refund_made_in_stripe_cancels_the_order_without_a_second_refund(auth_client, stripe_server, q_sync,
                                                                         django_capture_on_commit_callbacks):
    product = ProductFactory(stock_quantity=5)
    order_id = place(auth_client, product, 1)
    intent = auth_client.post("/api/v1/payments/create-intent", {"order_id": order_id}).json()
    with django_capture_on_commit_callbacks(execute=True):
        deliver(event("payment_intent.succeeded", stripe_pays(stripe_server, intent["payment_intent_id"])))
        deliver(event("charge.refunded", stripe_server.charge_for(intent["payment_intent_id"])))
    order = Order.objects.get(pk=order_id)
    assert order.status == OrderStatus.CANCELLED and not order.stock_reserved
    assert stripe_server.calls("POST", "/v1/refunds") == []
    assert Product.objects.get(pk=product.pk).stock_quantity == 5


def test_cancelled_payment_intent_releases_the_stock(auth_client, stripe_server):
    product = ProductFactory(stock_quantity=1)
    order_id = place(auth_client, product)
    intent = auth_client.post("/api/v1/payments/create-intent", {"order_id": order_id}).json()
    failed = {**stripe_server.intents[intent["payment_intent_id"]], "last_payment_error": {"code": "card_declined"}}
    deliver(event("payment_intent.payment_failed", failed))
    assert Order.objects.get(pk=order_id).status == OrderStatus.PENDING  # another card may still pay
    deliver(event("payment_intent.canceled", {**failed, "status": "canceled"}))
    order = Order.objects.get(pk=order_id)
    assert (order.status, order.cancel_reason) == (OrderStatus.CANCELLED, CancelReason.PAYMENT_FAILED)
    assert Product.objects.get(pk=product.pk).stock_quantity == 1


def test_dev_mode_does_not_pay_a_cancelled_order(auth_client, dev_payments):
    product = ProductFactory(stock_quantity=3)
    order_id = place(auth_client, product, 2)
    intent = auth_client.post("/api/v1/payments/create-intent", {"order_id": order_id}).json()
    assert auth_client.post(f"/api/v1/orders/{order_id}/cancel").json()["status"] == "cancelled"
    response = auth_client.post("/api/v1/payments/confirm", {"payment_id": intent["id"]})
    assert response.status_code == 409 and response.json()["error"]["code"] == "order_not_payable"
    assert Payment.objects.get().status not in (PaymentStatus.SUCCEEDED, PaymentStatus.REFUNDED)
    assert Order.objects.get().status == OrderStatus.CANCELLED
    product.refresh_from_db()
    assert product.stock_quantity == 3
