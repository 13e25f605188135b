"""Query counts of the orders and categories lists are pinned: more rows, no more queries."""

import pytest

from mozukai_hub.testing.queries import list_queries_pinned

from .factories import CategoryFactory, ProductFactory

pytestmark = pytest.mark.django_db


def test_orders_list_costs_the_same_queries_for_2_or_6_orders(auth_client, user, other_user):
    products = [ProductFactory(stock_quantity=100) for _ in range(3)]

    def add_orders(n):
        for _ in range(n):  # three lines each, from three products in three categories
            body = {"items": [{"product_id": product.pk, "quantity": 1} for product in products]}
            assert auth_client.post("/api/v1/orders", body, format="json").status_code == 201

    orders = list_queries_pinned(auth_client, "/api/v1/orders", add_rows=add_orders, pin=5)
    assert len(orders) == 6 and all(len(order["items"]) == 3 for order in orders)


def test_categories_list_costs_the_same_queries_for_2_or_6_categories(api_client):
    def add_categories(n):
        for _ in range(n):
            ProductFactory(category=CategoryFactory())

    categories = list_queries_pinned(api_client, "/api/v1/categories", add_rows=add_categories, pin=1)
    assert len(categories) == 6
