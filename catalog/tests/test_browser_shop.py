"""A customer on a phone buys two products in dev payment mode, in Chromium."""

import re
from decimal import Decimal

import pytest

from catalog.models import Order, OrderStatus
from mozukai_hub.testing.fixtures import PASSWORD

from .factories import CategoryFactory, ProductFactory

pytestmark = pytest.mark.django_db(transaction=True)


def test_phone_customer_buys_two_products(chromium, live_server, user, settings):
    settings.STRIPE_SECRET_KEY = ""
    settings.BILLING_DEV_PAYMENTS = True
    trees = CategoryFactory(name="Trees", slug="trees")
    maple = ProductFactory(name="Trident maple", slug="trident-maple", category=trees, price=Decimal("149.00"), stock_quantity=3)
    ProductFactory(name="Concave cutter", slug="concave-cutter", price=Decimal("39.00"), stock_quantity=5,
                   category=CategoryFactory(name="Tools", slug="tools", position=3))
    context = chromium.new_context(base_url=live_server.url, viewport={"width": 390, "height": 844}, is_mobile=True)
    context.set_default_timeout(15_000)
    page = context.new_page()
    try:
        page.goto("/accounts/login/")
        page.fill("input[name=login]", user.email)
        page.fill("input[name=password]", PASSWORD)
        page.locator("main form button[type=submit]").click()
        page.wait_for_url(re.compile(r".*/$"))

        page.goto("/")
        page.get_by_role("link", name="Trident maple").first.click()
        page.get_by_role("button", name="Add to cart").click()
        page.goto("/shop/products/?q=cutter")
        page.get_by_role("link", name="Concave cutter").first.click()
        page.fill("input[name=quantity]", "2")
        page.get_by_role("button", name="Add to cart").click()
        assert "227.00" in page.inner_text("main")  # 149 + 2 × 39
        page.get_by_role("link", name="Check out").click()
        page.fill("input[name=shipping_name]", "Ada Moss")
        page.fill("textarea[name=shipping_address]", "1 Garden Row\nKyoto")
        page.get_by_role("button", name="Place order and pay").click()
        assert "Dev payment mode" in page.inner_text("main")
        page.get_by_role("button", name=re.compile(r"Pay 227\.00 USD")).click()
        page.wait_for_url(re.compile(r".*/shop/orders/.+/\?paid=1$"))
        assert "is confirmed" in page.inner_text("main")
        page.locator("header").get_by_role("link", name="Orders").click()
        assert "Confirmed" in page.inner_text("main")
    finally:
        context.close()
    order = Order.objects.get()
    assert order.status == OrderStatus.CONFIRMED and order.total_amount == Decimal("227.00")
    maple.refresh_from_db()
    assert maple.stock_quantity == 2
