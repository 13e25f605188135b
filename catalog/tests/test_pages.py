"""The storefront as a person clicks through it: browse, cart, checkout, dev payment, orders."""

from decimal import Decimal

import pytest
from django.core.files.base import ContentFile
from django.test import Client

from catalog.models import Order, OrderStatus
from mozukai_hub.testing.fixtures import PASSWORD, make_user
from mozukai_hub.testing.images import png_bytes

from .factories import CategoryFactory, ProductFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def browser(user):
    client = Client()
    assert client.login(email=user.email, password=PASSWORD)
    return client


def test_home_and_listing_show_active_products_with_filters(client):
    trees = CategoryFactory(name="Trees", slug="trees")
    ProductFactory(name="Trident maple", category=trees, price=Decimal("90.00"))
    ProductFactory(name="Cheap pot", price=Decimal("8.00"), category=CategoryFactory(name="Pots", position=5))
    ProductFactory(name="Secret tree", category=trees, is_active=False)
    home = client.get("/").content.decode()
    # The front page features the first category's newest trees.
    assert "Trident maple" in home and "Secret tree" not in home and "New trees" in home and "Cheap pot" not in home
    listing = client.get("/shop/products/", {"min_price": "50"}).content.decode()
    assert "Trident maple" in listing and "Cheap pot" not in listing
    assert "Cheap pot" not in client.get("/shop/c/trees/").content.decode()
    assert "Nothing matches" in client.get("/shop/products/", {"q": "zelkova"}).content.decode()
    assert client.get("/shop/products/", {"min_price": "lots"}).status_code == 200  # bad filter: shown, not a 500
    assert client.get("/shop/c/no-such-category/").status_code == 404


def test_product_page_shows_photo_and_3d_model_when_there_is_one(client, user):
    from pipeline.models import Asset

    product = ProductFactory(name="Round pot", slug="round-pot")
    product.image.save("photo.png", ContentFile(png_bytes()), save=True)
    page = client.get("/shop/p/round-pot/").content.decode()
    assert "<model-viewer" not in page and product.image_url in page
    image = client.get(product.image_url)
    assert image.status_code == 200 and image["Content-Type"] == "image/png"
    assert b"".join(image.streaming_content) == png_bytes()
    asset = Asset(owner=user, asset_type=Asset.Type.GLB)
    asset.file.save("pot.glb", ContentFile(b"glTF-binary"), save=True)
    product.model_asset = asset
    product.save()
    page = client.get("/shop/p/round-pot/").content.decode()
    assert "<model-viewer" in page and "vendor/model-viewer/model-viewer.min.js" in page
    model = client.get(f"/shop/models/{product.pk}.glb")
    assert model.status_code == 200 and model["Content-Type"] == "model/gltf-binary"
    assert client.get("/shop/images/" + "0" * 32 + ".png").status_code == 404
    assert client.get("/shop/p/no-such-product/").status_code == 404


def test_cart_checkout_dev_payment_and_history(browser, user, dev_payments, mailoutbox, django_capture_on_commit_callbacks):
    maple = ProductFactory(name="Trident maple", price=Decimal("90.00"), stock_quantity=3)
    shears = ProductFactory(name="Shears", price=Decimal("25.00"), stock_quantity=10)
    browser.post("/shop/cart/add/", {"product_id": maple.pk, "quantity": 1})
    browser.post("/shop/cart/add/", {"product_id": shears.pk, "quantity": 1})
    browser.post("/shop/cart/update/", {f"qty-{shears.pk}": "2"})
    cart = browser.get("/shop/cart/").content.decode()
    assert "Trident maple" in cart and "140.00" in cart
    assert browser.post("/shop/checkout/", {"shipping_name": "", "shipping_address": ""}).status_code == 200
    assert Order.objects.count() == 0
    response = browser.post("/shop/checkout/", {"shipping_name": "Ada Moss", "shipping_address": "1 Garden Row"})
    order = Order.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/shop/orders/{order.pk}/pay/"
    assert order.total_amount == Decimal("140.00") and order.shipping_address == "1 Garden Row"
    pay_page = browser.get(response["Location"]).content.decode()
    assert "Dev payment mode" in pay_page
    with django_capture_on_commit_callbacks(execute=True):
        paid = browser.post(f"/shop/orders/{order.pk}/pay/")
    assert paid.status_code == 302
    order.refresh_from_db()
    assert order.status == OrderStatus.CONFIRMED
    detail = browser.get(paid["Location"]).content.decode()
    assert "is confirmed" in detail
    maple.refresh_from_db()
    assert maple.stock_quantity == 2
    assert order.short_id in browser.get("/shop/orders/").content.decode()
    assert "empty" in browser.get("/shop/cart/").content.decode()


def test_checkout_and_orders_need_sign_in_and_are_private(client, browser, user):
    product = ProductFactory()
    client.post("/shop/cart/add/", {"product_id": product.pk, "quantity": 1})
    response = client.get("/shop/checkout/")
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]
    browser.post("/shop/cart/add/", {"product_id": product.pk, "quantity": 1})
    browser.post("/shop/checkout/", {"shipping_name": "Ada", "shipping_address": "Here"})
    order = Order.objects.get()
    stranger = Client()
    stranger.force_login(make_user())
    assert stranger.get(f"/shop/orders/{order.pk}/").status_code == 404
    assert stranger.post(f"/shop/orders/{order.pk}/cancel/").status_code == 404
    assert stranger.get(f"/shop/orders/{order.pk}/pay/").status_code == 404
    assert Order.objects.get().status == OrderStatus.PENDING
    assert browser.post(f"/shop/orders/{order.pk}/cancel/").status_code == 302
    assert Order.objects.get().status == OrderStatus.CANCELLED


def test_cart_refuses_more_than_stock_at_checkout(browser):
    product = ProductFactory(stock_quantity=1)
    browser.post("/shop/cart/add/", {"product_id": product.pk, "quantity": 3})
    assert "Only 1 in stock" in browser.get("/shop/cart/").content.decode()
    response = browser.post("/shop/checkout/", {"shipping_name": "Ada", "shipping_address": "Here"})
    assert response.status_code == 302 and response["Location"] == "/shop/cart/"
    assert Order.objects.count() == 0
    product.refresh_from_db()
    assert product.stock_quantity == 1


@pytest.mark.parametrize("data", [
    {"qty-²": "1"}, {"remove": "²"}, {"qty-99999999999999999999999": "1"}, {"remove": "99999999999999999999999"},
    {"qty-1": "²"}, {"qty-1": "99999999999999999999999"},
])
def test_cart_update_ignores_odd_digits_and_huge_numbers(data):
    client = Client()
    product = ProductFactory(name="Shears", stock_quantity=10)
    client.post("/shop/cart/add/", {"product_id": product.pk, "quantity": 1})
    response = client.post("/shop/cart/update/", data)
    assert response.status_code == 302
    cart = client.get("/shop/cart/")
    assert cart.status_code == 200 and "Shears" in cart.content.decode()


@pytest.mark.parametrize("next_url", ["https://evil.example/", "//evil.example/", "https:/evil.example"])
def test_cart_add_never_redirects_off_site(next_url):
    response = Client().post("/shop/cart/add/", {"product_id": 1, "quantity": 0, "next": next_url})
    assert response.status_code == 302 and response["Location"] == "/shop/cart/"


def test_cart_add_returns_to_a_local_page():
    response = Client().post("/shop/cart/add/", {"product_id": 1, "quantity": 0, "next": "/shop/products/"})
    assert response.status_code == 302 and response["Location"] == "/shop/products/"
