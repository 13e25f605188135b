from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from catalog import tasks
from catalog.models import CancelReason, Order, OrderItem, OrderStatus, Product
from catalog.services.orders import order_transition
from mozukai_hub.testing.fixtures import bearer_client

from .factories import ProductFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/orders"


def place(client, *lines, **extra):
    return client.post(URL, {"items": [{"product_id": p, "quantity": q} for p, q in lines], **extra}, format="json")


def test_order_prices_come_from_the_catalog_and_are_snapshotted(auth_client, user):
    maple = ProductFactory(price=Decimal("80.00"), stock_quantity=3)
    pot = ProductFactory(price=Decimal("12.50"), stock_quantity=10)
    response = auth_client.post(URL, {"items": [
        {"product_id": pot.pk, "quantity": 2, "price": "0.01"},  # a client-sent price is ignored
        {"product_id": maple.pk, "quantity": 1},
    ], "shipping_name": "Ada Moss", "shipping_address": "1 Garden Row"}, format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["status"] == "pending" and body["total_amount"] == "105.00" and body["currency"] == "usd"
    assert {(i["product_id"], i["unit_price"], i["line_total"]) for i in body["items"]} == {
        (maple.pk, "80.00", "80.00"), (pot.pk, "12.50", "25.00")}
    maple.refresh_from_db(); pot.refresh_from_db()
    assert (maple.stock_quantity, pot.stock_quantity) == (2, 8)
    Product.objects.filter(pk=maple.pk).update(price=Decimal("99.00"), name="Renamed")
    again = auth_client.get(f"{URL}/{body['id']}").json()
    assert again["total_amount"] == "105.00"
    assert any(i["product_name"] != "Renamed" and i["unit_price"] == "80.00" for i in again["items"])
    assert [o["id"] for o in auth_client.get(URL).json()] == [body["id"]]


@pytest.mark.parametrize("lines_or_body", [
    {"items": []},
    {"items": [{"product_id": "P", "quantity": 0}]},
    {"items": [{"product_id": "P", "quantity": -2}]},
    {"items": [{"product_id": "P", "quantity": 100}]},
    {"items": [{"product_id": 999999, "quantity": 1}]},
    {"items": [{"product_id": "INACTIVE", "quantity": 1}]},
    {"items": [{"product_id": "P", "quantity": 1}, {"product_id": "P", "quantity": 1}]},
    {"items": [{"product_id": "P", "quantity": 1}], "user_id": "someone-else"},
    {"items": [{"product_id": "P", "quantity": "lots"}]},
    {"items": [{"product_id": "P"}]},
])
def test_bad_orders_are_4xx_and_reserve_nothing(auth_client, lines_or_body):
    product = ProductFactory(stock_quantity=5)
    inactive = ProductFactory(stock_quantity=5, is_active=False)
    for line in lines_or_body["items"]:
        line["product_id"] = {"P": product.pk, "INACTIVE": inactive.pk}.get(line["product_id"], line["product_id"])
    response = auth_client.post(URL, lines_or_body, format="json")
    assert 400 <= response.status_code < 500 and response.status_code != 404, response.json()
    assert "error" in response.json()
    assert Order.objects.count() == 0 and OrderItem.objects.count() == 0
    assert sorted(Product.objects.values_list("stock_quantity", flat=True)) == [5, 5]


def test_beyond_stock_is_409_and_reserves_nothing(auth_client):
    a, b = ProductFactory(stock_quantity=5), ProductFactory(stock_quantity=1)
    response = place(auth_client, (a.pk, 2), (b.pk, 2))
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "out_of_stock" and response.json()["error"]["available"] == 1
    assert Order.objects.count() == 0
    assert list(Product.objects.order_by("pk").values_list("stock_quantity", flat=True)) == [5, 1]


def test_orders_need_a_user_and_are_private(api_client, auth_client, other_user):
    product = ProductFactory()
    assert place(api_client, (product.pk, 1)).status_code == 401
    assert api_client.get(URL).status_code == 401
    order_id = place(auth_client, (product.pk, 1)).json()["id"]
    other = bearer_client(other_user)
    assert other.get(f"{URL}/{order_id}").status_code == 404
    assert other.post(f"{URL}/{order_id}/cancel").status_code == 404
    assert other.get(URL).json() == []
    assert Order.objects.get().status == OrderStatus.PENDING


def test_status_is_staff_only_and_follows_the_table(auth_client, staff_client, django_capture_on_commit_callbacks):
    product = ProductFactory(stock_quantity=4)
    order_id = place(auth_client, (product.pk, 3)).json()["id"]
    status_url = f"{URL}/{order_id}/status"
    assert auth_client.put(status_url, {"status": "confirmed"}).status_code == 403
    response = staff_client.put(status_url, {"status": "delivered"})
    assert response.status_code == 409
    assert response.json()["error"]["allowed"] == ["cancelled"]
    assert staff_client.put(status_url, {"status": "exploded"}).status_code == 400
    assert staff_client.put(f"{URL}/00000000-0000-0000-0000-000000000000/status", {"status": "confirmed"}).status_code == 404
    assert Order.objects.get().status == OrderStatus.PENDING
    # Staff cannot confirm an unpaid order (a later payment would refund and cancel it).
    response = staff_client.put(status_url, {"status": "Confirmed"})
    assert response.status_code == 409 and response.json()["error"]["allowed"] == ["cancelled"]
    assert Order.objects.get().status == OrderStatus.PENDING
    with django_capture_on_commit_callbacks() as callbacks:
        order_transition(order_id=order_id, to_status=OrderStatus.CONFIRMED, paid=True)  # as the payment handler does
    assert len(callbacks) == 1  # the confirmation e-mail is enqueued after commit
    assert staff_client.put(status_url, {"status": "shipped"}).json()["status"] == "shipped"
    response = staff_client.put(status_url, {"status": "cancelled"})
    assert response.status_code == 409 and response.json()["error"]["allowed"] == ["delivered"]
    assert staff_client.put(status_url, {"status": "delivered"}).json()["status"] == "delivered"
    product.refresh_from_db()
    assert product.stock_quantity == 1


def test_cancel_returns_stock_exactly_once(auth_client, staff_client):
    product = ProductFactory(stock_quantity=4)
    order_id = place(auth_client, (product.pk, 3)).json()["id"]
    assert auth_client.post(f"{URL}/{order_id}/cancel").json()["status"] == "cancelled"
    assert auth_client.post(f"{URL}/{order_id}/cancel").status_code == 409
    assert staff_client.put(f"{URL}/{order_id}/status", {"status": "cancelled"}).status_code == 409
    product.refresh_from_db()
    assert product.stock_quantity == 4


def test_unpaid_orders_expire_and_give_stock_back(auth_client):
    product = ProductFactory(stock_quantity=2)
    late = place(auth_client, (product.pk, 1)).json()["id"]
    fresh = place(auth_client, (product.pk, 1)).json()["id"]
    Order.objects.filter(pk=late).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert tasks.orders_expire() == 1
    assert tasks.orders_expire() == 0
    expired = Order.objects.get(pk=late)
    assert (expired.status, expired.cancel_reason, expired.stock_reserved) == (OrderStatus.CANCELLED, CancelReason.EXPIRED, False)
    assert Order.objects.get(pk=fresh).status == OrderStatus.PENDING
    product.refresh_from_db()
    assert product.stock_quantity == 1


def test_expiry_is_scheduled():
    from django_q.models import Schedule

    schedule = Schedule.objects.get(func="catalog.tasks.orders_expire")
    assert schedule.schedule_type == Schedule.MINUTES and schedule.minutes == 1


def test_confirmation_email_is_sent_once(auth_client, staff_client, mailoutbox):
    product = ProductFactory(name="Shimpaku juniper")
    order_id = place(auth_client, (product.pk, 1)).json()["id"]
    assert tasks.order_confirmation_email_send(order_id) is False  # still unpaid
    order_transition(order_id=order_id, to_status=OrderStatus.CONFIRMED, paid=True)
    assert tasks.order_confirmation_email_send(order_id) is True
    assert tasks.order_confirmation_email_send(order_id) is False
    assert len(mailoutbox) == 1
    assert "Shimpaku juniper" in mailoutbox[0].body and mailoutbox[0].to == [Order.objects.get().user.email]


@pytest.mark.parametrize("line", [
    {"product_id": 10**30, "quantity": 1},
    {"product_id": 2**63, "quantity": 1},
    {"product_id": 0, "quantity": 1},
    {"product_id": "²", "quantity": 1},
    {"product_id": 1, "quantity": 10**30},
    {"product_id": 1, "quantity": 0},
])
def test_out_of_range_numbers_in_an_order_are_400(auth_client, line):
    ProductFactory(stock_quantity=5)
    response = auth_client.post(URL, {"items": [line]}, format="json")
    assert response.status_code == 400, response.content[:500]
    assert "error" in response.json()
    assert not Order.objects.exists()


def test_customer_cancel_of_an_order_paid_meanwhile_is_409(auth_client, user):
    from catalog.services.orders import order_cancel_by_customer
    from mozukai_hub.api.errors import Conflict

    product = ProductFactory(stock_quantity=4)
    order_id = place(auth_client, (product.pk, 3)).json()["id"]
    seen = Order.objects.get(pk=order_id)  # the customer's copy: pending
    order_transition(order_id=order_id, to_status=OrderStatus.CONFIRMED, paid=True)  # paid meanwhile
    with pytest.raises(Conflict) as refused:
        order_cancel_by_customer(order=seen)
    assert refused.value.extra["status"] == OrderStatus.CONFIRMED
    assert Order.objects.get(pk=order_id).status == OrderStatus.CONFIRMED
    product.refresh_from_db()
    assert product.stock_quantity == 1
