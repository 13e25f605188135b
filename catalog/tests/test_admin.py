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
    order_transition(order_id=order.pk, to_status=OrderStatus.CONFIRMED)
    assert admin_browser.get(f"/admin/catalog/order/{order.pk}/change/").status_code == 200
    assert "confirmed" in admin_browser.get("/admin/catalog/order/", {"status__exact": "confirmed"}).content.decode().lower()
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
