from decimal import Decimal

import pytest
from django.db.models import Count

from catalog.models import Product

from .factories import CategoryFactory, ProductFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/products"


def names(response):
    return [item["name"] for item in response.json()]


def test_list_is_public_active_only_and_paged_in_headers(api_client, django_assert_max_num_queries):
    ProductFactory.create_batch(3)
    ProductFactory(name="Hidden", is_active=False)
    with django_assert_max_num_queries(3):
        response = api_client.get(URL, {"page_size": 2})
    assert response.status_code == 200
    assert len(response.json()) == 2 and "Hidden" not in names(response)
    assert response["X-Total-Count"] == "3" and 'rel="next"' in response["Link"]
    item = response.json()[0]
    assert set(item) >= {"id", "name", "slug", "price", "currency", "category", "image_url", "stock_quantity", "is_active"}
    assert item["price"] == "25.00" and item["currency"] == "usd"
    second = api_client.get(URL, {"page_size": 2, "page": 2})
    assert len(second.json()) == 1 and second["X-Page"] == "2" and 'rel="prev"' in second["Link"]
    assert api_client.get(URL, {"page_size": 2, "page": 9}).status_code == 404


def test_list_filters_and_ordering(api_client):
    trees, pots = CategoryFactory(slug="trees"), CategoryFactory(slug="pots")
    ProductFactory(name="Maple", category=trees, price=Decimal("80.00"), description="Japanese maple")
    ProductFactory(name="Pine", category=trees, price=Decimal("120.00"), stock_quantity=0)
    ProductFactory(name="Glazed pot", category=pots, price=Decimal("30.00"))
    assert names(api_client.get(URL, {"category": "trees"})) == ["Maple", "Pine"]
    assert names(api_client.get(URL, {"category": pots.pk})) == ["Glazed pot"]
    assert names(api_client.get(URL, {"min_price": "50", "max_price": "100"})) == ["Maple"]
    assert names(api_client.get(URL, {"in_stock": "true", "ordering": "-price"})) == ["Maple", "Glazed pot"]
    assert names(api_client.get(URL, {"in_stock": "false"})) == ["Pine"]
    assert names(api_client.get(URL, {"q": "japanese"})) == ["Maple"]
    assert names(api_client.get(URL, {"ordering": "price"})) == ["Glazed pot", "Maple", "Pine"]


@pytest.mark.parametrize("params", [{"ordering": "bogus"}, {"min_price": "cheap"}, {"in_stock": "maybe"}, {"max_price": "-1"}])
def test_list_bad_filters_are_400(api_client, params):
    ProductFactory()
    response = api_client.get(URL, params)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "validation_error"


def test_cached_list_sees_a_change_on_the_next_request(api_client, staff_client, django_assert_num_queries,
                                                      django_capture_on_commit_callbacks):
    product = ProductFactory(price=Decimal("10.00"))
    assert api_client.get(URL).json()[0]["price"] == "10.00"
    with django_assert_num_queries(0):  # served from the cache
        assert api_client.get(URL).json()[0]["price"] == "10.00"
    with django_capture_on_commit_callbacks(execute=True):
        assert staff_client.patch(f"{URL}/{product.pk}", {"price": "12.50"}).status_code == 200
    assert api_client.get(URL).json()[0]["price"] == "12.50"
    category = product.category
    with django_capture_on_commit_callbacks(execute=True):
        response = staff_client.post(URL, {"name": "New", "slug": "new", "price": "5.00", "category": category.slug})
    assert response.status_code == 201
    assert "New" in names(api_client.get(URL))


def test_detail_by_id_or_slug_and_inactive_is_404_for_public(api_client, staff_client):
    product = ProductFactory(slug="shimpaku")
    assert api_client.get(f"{URL}/{product.pk}").json()["slug"] == "shimpaku"
    assert api_client.get(f"{URL}/shimpaku/").json()["id"] == product.pk
    hidden = ProductFactory(is_active=False)
    assert api_client.get(f"{URL}/{hidden.pk}").status_code == 404
    assert staff_client.get(f"{URL}/{hidden.pk}").status_code == 200
    assert api_client.get(f"{URL}/no-such-thing").status_code == 404


def test_writes_need_staff(api_client, auth_client):
    product = ProductFactory(price=Decimal("10.00"))
    body = {"name": "X", "slug": "x", "price": "1.00", "category": product.category.slug}
    assert api_client.post(URL, body).status_code == 401
    assert auth_client.post(URL, body).status_code == 403
    assert auth_client.patch(f"{URL}/{product.pk}", {"price": "1.00"}).status_code == 403
    assert auth_client.put(f"{URL}/{product.pk}", body).status_code == 403
    assert auth_client.delete(f"{URL}/{product.pk}").status_code == 403
    assert Product.objects.count() == 1
    product.refresh_from_db()
    assert product.price == Decimal("10.00")


def test_staff_create_update_delete(staff_client):
    category = CategoryFactory(slug="tools")
    response = staff_client.post(URL, {"name": "Concave cutter", "slug": "concave-cutter", "price": "39.90",
                                       "category": "tools", "stock_quantity": 7, "currency": "EUR"})
    assert response.status_code == 201, response.json()
    created = response.json()
    assert created["currency"] == "eur" and created["stock_quantity"] == 7 and created["category"] == "tools"
    full = {"name": "Cutter", "slug": "cutter", "price": "41.00", "category_id": category.pk}
    assert staff_client.put(f"{URL}/{created['id']}", full).json()["name"] == "Cutter"
    assert staff_client.delete(f"{URL}/cutter").status_code == 204
    assert not Product.objects.filter(pk=created["id"]).exists()


@pytest.mark.parametrize("body", [
    {"name": "X", "slug": "x", "price": "0", "category": "tools"},
    {"name": "X", "slug": "x", "price": "-3", "category": "tools"},
    {"name": "X", "slug": "x", "price": "3", "category": "nope"},
    {"name": "X", "slug": "x", "price": "3"},
    {"name": "X", "slug": "x", "price": "3", "category": "tools", "stock_quantity": -1},
    {"name": "X", "slug": "x", "price": "3", "category": "tools", "colour": "green"},
    {"name": "X", "slug": "taken", "price": "3", "category": "tools"},
])
def test_staff_bad_input_stores_nothing(staff_client, body):
    ProductFactory(slug="taken", category=CategoryFactory(slug="tools"))
    response = staff_client.post(URL, body)
    assert response.status_code == 400, response.json()
    assert Product.objects.count() == 1


def test_delete_of_an_ordered_product_deactivates_it(staff_client, user):
    from catalog.services.orders import OrderLine, order_place

    product = ProductFactory()
    order_place(user=user, lines=[OrderLine(product_id=product.pk, quantity=1)])
    assert staff_client.delete(f"{URL}/{product.pk}").status_code == 204
    product.refresh_from_db()
    assert product.is_active is False


def test_categories_are_listed(api_client):
    CategoryFactory(name="Trees", slug="trees")
    assert api_client.get("/api/v1/categories").json()[0]["slug"] == "trees"


def test_database_built_page_equals_the_python_shape(user):
    """PostgreSQL serialises list pages itself; it must give exactly the Python shape."""
    import json
    from datetime import datetime, timezone

    from django.db import connection

    from catalog.api import listing
    from catalog.api import serializers as s
    from catalog.selectors import PRODUCT_ORDERINGS, product_list
    from pipeline.models import Asset

    assert connection.vendor == "postgresql"
    asset = Asset.objects.create(owner=user, asset_type=Asset.Type.GLB, uri="s3://bucket/pot.glb")
    ProductFactory(name="Ünïcode “pot”", description='quotes " and \\ backslash', price=Decimal("1234.50"),
                   image="catalog/products/" + "a" * 32 + ".png", model_asset=asset)
    ProductFactory(name="Zero stock", stock_quantity=0)
    round_second = ProductFactory(name="Round second")
    Product.objects.filter(pk=round_second.pk).update(created_at=datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc))
    Product.objects.filter(name="Zero stock").update(updated_at=datetime(2026, 1, 2, 3, 4, 5, 120000, tzinfo=timezone.utc))
    for ordering in PRODUCT_ORDERINGS:
        products = product_list(filters={"ordering": ordering})
        expected = [s.product_row_data(row) for row in products.values(*s.PRODUCT_LIST_FIELDS)[1:3]]
        body, total = listing.product_page_json(products, offset=1, limit=2)
        assert json.loads(body) == expected and total == 3, ordering
    # Every filter the selector knows: the ORM's WHERE clause inside the fixed statement.
    other = ProductFactory(name="Other category", price=Decimal("7.00"))
    for filters in [{"category": other.category.slug}, {"category": str(other.category_id)}, {"min_price": "20"},
                    {"max_price": "25", "ordering": "-price"}, {"in_stock": "true"}, {"in_stock": "no"},
                    {"q": "BACKSLASH"}, {"search": "pot"}, {"q": "100%_"}, {"category": "trees", "min_price": "1"}]:
        products = product_list(filters=filters)
        expected = [s.product_row_data(row) for row in products.values(*s.PRODUCT_LIST_FIELDS)[0:3]]
        body, total = listing.product_page_json(products, offset=0, limit=3)
        assert json.loads(body) == expected and total == products.count(), filters
    assert listing.product_page_json(product_list(filters={"q": "nothing-like-this"}), offset=0, limit=5) == (b"[]", 0)
    assert listing.product_page_json(product_list(), offset=50, limit=5) == (b"[]", 4)  # past the end
    [whole_second] = json.loads(listing.product_page_json(product_list(filters={"q": "Round second"}), offset=0, limit=1)[0])
    assert whole_second["created_at"] == "2026-01-02T03:04:05+00:00"
    [trailing_zeros] = json.loads(listing.product_page_json(product_list(filters={"q": "Zero stock"}), offset=0, limit=1)[0])
    assert trailing_zeros["updated_at"] == "2026-01-02T03:04:05.120000+00:00"


@pytest.mark.parametrize("queryset", [
    lambda: Product.objects.filter(is_active=True).annotate(n=Count("id")).order_by("name"),
    lambda: Product.objects.distinct().order_by("name"),
    lambda: Product.objects.filter(model_asset__uri="x").order_by("name"),
    lambda: Product.objects.order_by("category__name"),
    lambda: Product.objects.order_by("category", "id"),
    lambda: Product.objects.order_by(),
])
def test_database_built_page_refuses_querysets_it_would_misread(queryset):
    from catalog.api import listing

    with pytest.raises(ValueError):
        listing.product_page_json(queryset(), offset=0, limit=5)


@pytest.mark.django_db(transaction=True)
def test_the_list_statement_is_prepared_and_planned_once_per_connection():
    """A cache miss skips PostgreSQL's parse and plan: one generic plan, reused."""
    from django.db import connection

    from catalog.api import listing
    from catalog.selectors import product_list

    ProductFactory.create_batch(3)
    for price in ("1", "2", "3", "4", "5", "6"):
        listing.product_page_json(product_list(filters={"min_price": price}), offset=0, limit=2)
    with connection.cursor() as cursor:
        cursor.execute("SELECT generic_plans, custom_plans FROM pg_prepared_statements WHERE statement LIKE %s",
                       ["%json_agg%"])
        [(generic_plans, custom_plans)] = cursor.fetchall()
    assert generic_plans >= 3 and custom_plans == 0


def test_forced_cache_misses_are_throttled_and_cached_pages_still_served(api_client, settings):
    """Ever-new filters force database reads: they count against the API rate (one atomic
    Redis step); a page already cached costs one cache read and is served without it."""
    rest = dict(settings.REST_FRAMEWORK)
    rest["DEFAULT_THROTTLE_RATES"] = {**rest["DEFAULT_THROTTLE_RATES"], "user": "3/min"}
    settings.REST_FRAMEWORK = rest
    ProductFactory()
    assert [api_client.get(URL, {"min_price": f"1.{n}"}).status_code for n in range(3)] == [200] * 3
    limited = api_client.get(URL, {"min_price": "1.9"})
    assert limited.status_code == 429 and limited.json()["error"]["code"] == "throttled"
    assert 0 < int(limited["Retry-After"]) <= 60
    assert api_client.get(URL, {"min_price": "1.0"}).status_code == 200  # cached


def test_bad_credentials_are_refused_even_when_the_page_is_cached(api_client):
    ProductFactory()
    assert api_client.get(URL).status_code == 200
    api_client.credentials(HTTP_AUTHORIZATION="Bearer not-a-token")
    assert api_client.get(URL).status_code == 401


@pytest.mark.parametrize("path, params", [
    (URL, {"category": "²"}),
    (URL, {"category": "99999999999999999999999"}),
    (f"{URL}/²", {}),
    (f"{URL}/99999999999999999999999", {}),
    (URL, {"page": "²"}),
    (URL, {"page": "9223372036854775807"}),
    (URL, {"page": "99999999999999999999999"}),
])
def test_odd_digits_and_huge_numbers_are_4xx_or_empty(api_client, path, params):
    ProductFactory()
    response = api_client.get(path, params)
    assert response.status_code in (200, 404), response.content[:500]
    if response.status_code == 200:
        assert response.json() == []
    else:
        assert "error" in response.json()


def test_page_far_beyond_the_end_is_404(api_client):
    ProductFactory()
    response = api_client.get(URL, {"page": "9223372036854775807"})
    assert response.status_code == 404 and "error" in response.json()


def test_list_cache_key_cannot_be_forged_by_an_encoded_ampersand(api_client):
    ProductFactory(name="x marks", description="")
    ProductFactory(name="y tree", description="")
    assert [p["name"] for p in api_client.get(f"{URL}?q=x&search=y").json()] == ["x marks"]
    # q is the literal text "x&search=y": nothing matches, and the page above must not be served.
    assert api_client.get(f"{URL}?q=x%26search%3Dy").json() == []
    assert api_client.get(f"{URL}?q=x%26search%3Dy").json() == []  # and its own cached page is right too
