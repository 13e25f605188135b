"""Seed 004's product writes (issue 10, item 3).

Seed 004's Product model is `name, description, price, category, image_url, stock_quantity,
is_active`; its API is `POST /products` and `PUT /products/{id}` (admin). These tests send
exactly those fields: no slug, no expected_stock_quantity, image_url and category as strings.
"""

import json
from decimal import Decimal

import pytest

from catalog.models import Category, Order, OrderStatus, Product
from catalog.services.orders import OrderLine, order_cancel_by_customer, order_place, order_transition

from .factories import CategoryFactory, ProductFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/products"


def seed_product(**changes) -> dict:
    """A body with seed 004's Product fields, as its SPA sends them (price a JSON number)."""
    body = {
        "name": "Juniper Procumbens Nana",
        "description": "A low, spreading juniper for beginners.",
        "price": 49.99,
        "category": "Outdoor Bonsai",
        "image_url": "https://images.example.com/juniper-nana.jpg",
        "stock_quantity": 12,
        "is_active": True,
    }
    return {**body, **changes}


@pytest.fixture
def outdoor(db):
    return CategoryFactory(name="Outdoor Bonsai", slug="outdoor-bonsai")


def test_post_with_seed_fields_derives_a_unique_slug(staff_client, outdoor):
    response = staff_client.post(URL, seed_product(), format="json")
    assert response.status_code == 201, response.json()
    created = response.json()
    assert created["slug"] == "juniper-procumbens-nana"
    assert created["category"] == "outdoor-bonsai" and created["price"] == "49.99"
    assert created["image_url"] == "https://images.example.com/juniper-nana.jpg"
    assert created["stock_quantity"] == 12 and created["available_quantity"] == 12 and created["in_stock"]
    again = staff_client.post(URL, seed_product(), format="json")
    assert again.status_code == 201 and again.json()["slug"] == "juniper-procumbens-nana-2"
    third = staff_client.post(URL, seed_product(name="Juniper procumbens NANA!"), format="json")
    assert third.json()["slug"] == "juniper-procumbens-nana-3"
    only_symbols = staff_client.post(URL, seed_product(name="盆栽"), format="json")
    assert only_symbols.status_code == 201 and only_symbols.json()["slug"] == "product"
    # The public list shows what staff sent.
    listed = {item["slug"]: item for item in staff_client.get(URL).json()}
    assert listed["juniper-procumbens-nana"]["image_url"] == "https://images.example.com/juniper-nana.jpg"


def test_category_by_slug_or_id_and_an_unknown_one_is_a_400_naming_the_known(staff_client, outdoor):
    assert staff_client.post(URL, seed_product(category="outdoor-bonsai"), format="json").status_code == 201
    assert staff_client.post(URL, seed_product(category=outdoor.pk), format="json").status_code == 201
    response = staff_client.post(URL, seed_product(category="Indoor Bonsai"), format="json")
    assert response.status_code == 400
    assert "outdoor-bonsai" in response.json()["error"]["fields"]["category"][0]
    assert Product.objects.count() == 2


@pytest.mark.parametrize("image_url", ["javascript:alert(1)", "ftp://example.com/a.jpg", "/etc/passwd", "not a url"])
def test_an_image_url_that_is_not_http_is_refused_and_nothing_stored(staff_client, outdoor, image_url):
    response = staff_client.post(URL, seed_product(image_url=image_url), format="json")
    assert response.status_code == 400 and "image_url" in response.json()["error"]["fields"]
    assert not Product.objects.exists()


def test_put_with_seed_fields_replaces_the_product_and_keeps_its_slug(staff_client, outdoor):
    product = ProductFactory(slug="juniper", stock_quantity=4, image="catalog/products/" + "b" * 32 + ".png")
    own_photo = staff_client.get(f"{URL}/{product.pk}").json()["image_url"]
    response = staff_client.put(f"{URL}/{product.pk}", seed_product(price=55, is_active=False), format="json")
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["slug"] == "juniper" and body["name"] == "Juniper Procumbens Nana" and body["price"] == "55.00"
    assert body["category"] == "outdoor-bonsai" and body["is_active"] is False and body["stock_quantity"] == 12
    assert body["image_url"] == "https://images.example.com/juniper-nana.jpg"
    # The product's own photo address (what a GET showed) or null shows the uploaded photo again.
    assert staff_client.put(f"{URL}/{product.pk}", seed_product(image_url=own_photo), format="json").json()["image_url"] == own_photo
    assert staff_client.put(f"{URL}/{product.pk}", seed_product(image_url=None), format="json").json()["image_url"] == own_photo
    product.refresh_from_db()
    assert product.external_image_url == "" and product.image.name.endswith("b" * 32 + ".png")


def test_reserved_units_are_separate_from_the_stock_staff_set(staff_client, user, outdoor):
    product = ProductFactory(category=outdoor, stock_quantity=10)
    url = f"{URL}/{product.pk}"
    read = staff_client.get(url).json()  # staff read 10 on hand
    order = order_place(user=user, lines=[OrderLine(product_id=product.pk, quantity=3)])
    after_order = staff_client.get(url).json()
    assert (after_order["stock_quantity"], after_order["available_quantity"]) == (10, 7)
    # The seed's PUT of what staff read (no expected value) does not undo the reservation.
    body = seed_product(name=read["name"], category="outdoor-bonsai", stock_quantity=read["stock_quantity"])
    response = staff_client.put(url, body, format="json")
    assert response.status_code == 200, response.json()
    assert (response.json()["stock_quantity"], response.json()["available_quantity"]) == (10, 7)
    # A new count on the shelf: what is for sale follows, the held units stay held.
    response = staff_client.put(url, {**body, "stock_quantity": 15}, format="json")
    assert (response.json()["stock_quantity"], response.json()["available_quantity"]) == (15, 12)
    product.refresh_from_db()
    assert (product.stock_quantity, product.stock_reserved) == (12, 3)
    # Fewer on hand than the orders hold: refused, nothing changed.
    response = staff_client.put(url, {**body, "stock_quantity": 2}, format="json")
    assert response.status_code == 409 and response.json()["error"]["code"] == "stock_below_reserved"
    assert response.json()["error"]["stock_reserved"] == 3
    product.refresh_from_db()
    assert (product.stock_quantity, product.stock_reserved) == (12, 3)
    # The customer cancels: the units are for sale again, the count on hand is unchanged.
    order_cancel_by_customer(order=order)
    assert staff_client.get(url).json()["stock_quantity"] == 15
    product.refresh_from_db()
    assert (product.stock_quantity, product.stock_reserved) == (15, 0)


def test_shipping_takes_the_units_off_the_shelf(staff_client, user):
    product = ProductFactory(stock_quantity=10)
    order = order_place(user=user, lines=[OrderLine(product_id=product.pk, quantity=4)])
    Order.objects.filter(pk=order.pk).update(status=OrderStatus.CONFIRMED)
    order_transition(order_id=order.pk, to_status=OrderStatus.SHIPPED)
    shown = staff_client.get(f"{URL}/{product.pk}").json()
    assert (shown["stock_quantity"], shown["available_quantity"]) == (6, 6)
    order_transition(order_id=order.pk, to_status=OrderStatus.DELIVERED)
    product.refresh_from_db()
    assert (product.stock_quantity, product.stock_reserved) == (6, 0)


def test_expected_stock_quantity_still_guards_a_write_against_a_count_changed_meanwhile(staff_client, user):
    product = ProductFactory(stock_quantity=10)
    url = f"{URL}/{product.pk}"
    order_place(user=user, lines=[OrderLine(product_id=product.pk, quantity=3)])  # on hand still 10
    assert staff_client.patch(url, {"stock_quantity": 12, "expected_stock_quantity": 10}).status_code == 200
    response = staff_client.patch(url, {"stock_quantity": 20, "expected_stock_quantity": 10})
    assert response.status_code == 409 and response.json()["error"]["code"] == "stock_changed"
    assert response.json()["error"]["stock_quantity"] == 12
    product.refresh_from_db()
    assert (product.stock_quantity, product.stock_reserved) == (9, 3)


def test_seed_writes_need_staff(auth_client, api_client, outdoor):
    product = ProductFactory(category=outdoor)
    assert api_client.post(URL, seed_product(), format="json").status_code == 401
    assert auth_client.post(URL, seed_product(), format="json").status_code == 403
    assert auth_client.put(f"{URL}/{product.pk}", seed_product(), format="json").status_code == 403
    assert Product.objects.count() == 1 and Product.objects.get().name != "Juniper Procumbens Nana"


def test_database_built_page_shows_links_and_held_units_as_the_python_shape(user, outdoor):
    """The PostgreSQL-built list gives the same image_url, stock_quantity and available_quantity."""
    from django.db import connection

    from catalog.api import listing
    from catalog.api import serializers as s
    from catalog.selectors import product_list

    assert connection.vendor == "postgresql"
    ProductFactory(name="A linked", external_image_url="https://images.example.com/a.jpg",
                   image="catalog/products/" + "c" * 32 + ".png")
    ProductFactory(name="B uploaded", image="catalog/products/" + "d" * 32 + ".png")
    held = ProductFactory(name="C held", stock_quantity=5)
    order_place(user=user, lines=[OrderLine(product_id=held.pk, quantity=5)])
    products = product_list()
    expected = [s.product_row_data(row) for row in products.values(*s.PRODUCT_LIST_FIELDS)]
    body, total = listing.product_page_json(products, offset=0, limit=10)
    assert json.loads(body) == expected and total == 3
    by_name = {row["name"]: row for row in expected}
    assert by_name["A linked"]["image_url"] == "https://images.example.com/a.jpg"
    assert by_name["B uploaded"]["image_url"].endswith("d" * 32 + ".png")
    assert (by_name["C held"]["stock_quantity"], by_name["C held"]["available_quantity"],
            by_name["C held"]["in_stock"]) == (5, 0, False)
    assert Category.objects.count() == 4  # the fixture's and three factory categories


def test_a_product_price_in_the_seed_body_is_decimal_exact(staff_client, outdoor):
    response = staff_client.post(URL, seed_product(price=0.1 + 0.2), format="json")
    # 0.30000000000000004 has more places than a price may have: refused, nothing stored.
    assert response.status_code == 400 and "price" in response.json()["error"]["fields"]
    assert staff_client.post(URL, seed_product(price="19.90"), format="json").json()["price"] == "19.90"
    assert Product.objects.get().price == Decimal("19.90")
