import pytest
from django.test import Client

from catalog.models import Order, OrderStatus
from catalog.services.orders import OrderLine, order_place, order_transition

from .factories import ProductFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_browser(staff_user):
    staff_user.is_superuser = True
    staff_user.save()
    client = Client()
    client.force_login(staff_user)
    return client


def test_product_admin_lists_filters_and_searches(admin_browser):
    ProductFactory(name="Sold out juniper", stock_quantity=0)
    ProductFactory(name="Nearly gone pine", stock_quantity=2)
    ProductFactory(name="Plenty of moss", stock_quantity=50)
    page = admin_browser.get("/admin/catalog/product/", {"stock": "low"}).content.decode()
    assert "Nearly gone pine" in page and "Sold out juniper" not in page and "Plenty of moss" not in page
    page = admin_browser.get("/admin/catalog/product/", {"q": "moss"}).content.decode()
    assert "Plenty of moss" in page and "Nearly gone pine" not in page


def test_order_actions_follow_the_workflow(admin_browser, user):
    product = ProductFactory(stock_quantity=5)
    order = order_place(user=user, lines=[OrderLine(product_id=product.pk, quantity=2)])
    pending = order_place(user=user, lines=[OrderLine(product_id=product.pk, quantity=1)])
    order_transition(order_id=order.pk, to_status=OrderStatus.CONFIRMED, paid=True)
    assert admin_browser.get(f"/admin/catalog/order/{order.pk}/change/").status_code == 200
    filtered = admin_browser.get("/admin/catalog/order/", {"status__exact": "confirmed"}).content.decode()
    assert f"/admin/catalog/order/{order.pk}/change/" in filtered
    assert f"/admin/catalog/order/{pending.pk}/change/" not in filtered
    admin_browser.post("/admin/catalog/order/", {"action": "ship", "_selected_action": [order.pk, pending.pk]})
    assert Order.objects.get(pk=order.pk).status == OrderStatus.SHIPPED
    assert Order.objects.get(pk=pending.pk).status == OrderStatus.PENDING  # pending → shipped is refused
    admin_browser.post("/admin/catalog/order/", {"action": "deliver", "_selected_action": [order.pk]})
    admin_browser.post("/admin/catalog/order/", {"action": "cancel", "_selected_action": [pending.pk]})
    assert Order.objects.get(pk=order.pk).status == OrderStatus.DELIVERED
    assert Order.objects.get(pk=pending.pk).status == OrderStatus.CANCELLED
    product.refresh_from_db()
    assert product.stock_quantity == 3


def test_stock_edit_in_the_admin_keeps_reservations_made_meanwhile(admin_browser, user):
    product = ProductFactory(name="Pine", stock_quantity=10)
    form_page = admin_browser.get(f"/admin/catalog/product/{product.pk}/change/")
    assert 'name="stock_seen" value="10"' in form_page.content.decode()
    # A customer reserves 3 while staff have the page open with stock 10 …
    order_place(user=user, lines=[OrderLine(product_id=product.pk, quantity=3)])
    # … and staff add 5 (10 → 15 on their screen).
    data = {"category": product.category_id, "name": "Pine", "slug": product.slug, "description": "",
            "price": "25.00", "currency": "usd", "stock_quantity": 15, "is_active": "on", "model_asset": "",
            "images-TOTAL_FORMS": 0, "images-INITIAL_FORMS": 0, "images-MIN_NUM_FORMS": 0, "images-MAX_NUM_FORMS": 1000,
            "stock_seen": 10}
    response = admin_browser.post(f"/admin/catalog/product/{product.pk}/change/", data)
    assert response.status_code == 302, response.content.decode()[:2000]
    product.refresh_from_db()
    assert product.stock_quantity == 12


def _product_form(product, **changes):
    data = {"category": product.category_id, "name": product.name, "slug": product.slug, "description": product.description,
            "price": str(product.price), "currency": product.currency, "stock_quantity": product.stock_quantity,
            "is_active": "on", "model_asset": "", "images-TOTAL_FORMS": 0, "images-INITIAL_FORMS": 0,
            "images-MIN_NUM_FORMS": 0, "images-MAX_NUM_FORMS": 1000, "stock_seen": product.stock_quantity}
    return {**data, **changes}


def test_price_edit_in_the_admin_keeps_reservations_made_meanwhile(admin_browser, user):
    product = ProductFactory(name="Pine", stock_quantity=10)
    data = _product_form(product, price="30.00")  # the form as loaded: stock 10
    order_place(user=user, lines=[OrderLine(product_id=product.pk, quantity=3)])  # 10 → 7 meanwhile
    response = admin_browser.post(f"/admin/catalog/product/{product.pk}/change/", data)
    assert response.status_code == 302, response.content.decode()[:2000]
    product.refresh_from_db()
    assert (product.stock_quantity, str(product.price)) == (7, "30.00")


def test_changelist_edit_writes_only_the_edited_columns(admin_browser):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    product = ProductFactory(name="Pine", stock_quantity=10)
    data = {"form-TOTAL_FORMS": 1, "form-INITIAL_FORMS": 1, "form-MIN_NUM_FORMS": 0, "form-MAX_NUM_FORMS": 1000,
            "form-0-id": product.pk, "form-0-price": "31.00", "form-0-is_active": "on", "_save": "Save"}
    with CaptureQueriesContext(connection) as queries:
        response = admin_browser.post("/admin/catalog/product/", data)
    assert response.status_code == 302, response.content.decode()[:2000]
    updates = [q["sql"] for q in queries.captured_queries if q["sql"].startswith('UPDATE "catalog_product"')]
    assert len(updates) == 1 and "stock_quantity" not in updates[0]
    product.refresh_from_db()
    assert (product.stock_quantity, str(product.price)) == (10, "31.00")


def test_order_edit_in_the_admin_saves_only_the_shipping_fields(admin_browser, user):
    product = ProductFactory(stock_quantity=5)
    order = order_place(user=user, lines=[OrderLine(product_id=product.pk, quantity=2)])
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        response = admin_browser.post(f"/admin/catalog/order/{order.pk}/change/", {
            "shipping_name": "Ada Moss", "shipping_address": "1 Garden Row",
            "items-TOTAL_FORMS": 1, "items-INITIAL_FORMS": 1, "items-MIN_NUM_FORMS": 0, "items-MAX_NUM_FORMS": 1000,
            "items-0-id": order.items.get().pk, "items-0-order": order.pk})
    assert response.status_code == 302, response.content.decode()[:3000]
    updates = [q["sql"] for q in queries.captured_queries if q["sql"].startswith('UPDATE "catalog_order"')]
    assert len(updates) == 1
    assert '"status"' not in updates[0] and '"stock_reserved"' not in updates[0] and '"cancel_reason"' not in updates[0]
    order.refresh_from_db()
    assert (order.shipping_name, order.shipping_address, order.status) == ("Ada Moss", "1 Garden Row", OrderStatus.PENDING)


def test_product_form_without_the_seen_stock_changes_no_stock(admin_browser, user):
    product = ProductFactory(name="Pine", stock_quantity=10)
    data = _product_form(product, price="30.00", stock_quantity=50)
    del data["stock_seen"]
    response = admin_browser.post(f"/admin/catalog/product/{product.pk}/change/", data, follow=True)
    assert response.status_code == 200 and "stock not changed" in response.content.decode()
    product.refresh_from_db()
    assert (product.stock_quantity, str(product.price)) == (10, "30.00")
