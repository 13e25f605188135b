"""Stock 1, 50 concurrent buyers, real threads on PostgreSQL: exactly one order."""

import threading

import pytest
from django.db import connection, connections
from rest_framework.test import APIClient

from accounts.models import User
from catalog.models import Order, OrderItem, Product

from .factories import ProductFactory

BUYERS = 50


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_fifty_buyers_one_bonsai():
    assert connection.vendor == "postgresql", "the stock race must be proven on PostgreSQL"
    product = ProductFactory(stock_quantity=1)
    other = ProductFactory(stock_quantity=1000)
    buyers = [User.objects.create(email=f"buyer{i}@example.com", username=f"buyer{i}") for i in range(BUYERS)]
    start = threading.Barrier(BUYERS)
    statuses: list[int] = []
    lock = threading.Lock()

    def buy(user):
        client = APIClient()
        client.force_authenticate(user)
        try:
            start.wait(timeout=30)
            # Half the buyers list the products the other way round: the lock order is ours.
            lines = [(product.pk, 1), (other.pk, 1)]
            if user.username.endswith(("1", "3", "5", "7", "9")):
                lines.reverse()
            response = client.post("/api/v1/orders", {"items": [{"product_id": p, "quantity": q} for p, q in lines]},
                                   format="json")
            with lock:
                statuses.append(response.status_code)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=buy, args=(user,)) for user in buyers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads)

    assert sorted(set(statuses)) == [201, 409], statuses
    assert statuses.count(201) == 1 and len(statuses) == BUYERS
    product.refresh_from_db(); other.refresh_from_db()
    assert product.stock_quantity == 0
    assert other.stock_quantity == 999
    assert Order.objects.count() == 1 and OrderItem.objects.filter(product=product).count() == 1
    assert not Product.objects.filter(stock_quantity__lt=0).exists()
