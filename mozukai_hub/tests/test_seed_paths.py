"""Seeds 002 and 004's own paths (`/api/auth/…`, `/auth/login`, `/users/me`, `/products`, …):
the same views as under /api/v1/, tried with the seeds' own calls."""

import pytest
from django.urls import resolve

from catalog.models import Product
from catalog.tests.factories import ProductFactory
from mozukai_hub.api.seed_paths import (SEED_002_PREFIX, SEED_002_ROUTES, SEED_004_PREFIX, SEED_004_ROUTES,
                                        is_api_path, seed_paths)
from mozukai_hub.testing.fixtures import PASSWORD
from mozukai_hub.testing.routes import route_example
from mozukai_hub.urls import api_v1

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("prefix, names", [(SEED_002_PREFIX, SEED_002_ROUTES), (SEED_004_PREFIX, SEED_004_ROUTES)])
def test_each_seed_path_is_the_api_v1_view_with_both_slash_spellings(prefix, names):
    routes = seed_paths(api_v1, prefix, names)
    assert len(routes) == 2 * len(names)
    for route in routes:
        seed_path = route_example(str(route.pattern))
        v1_path = "/api/v1/" + seed_path[len("/" + prefix):]
        assert resolve(seed_path).func is resolve(v1_path).func is route.callback, seed_path


def test_a_name_that_no_longer_exists_fails_at_start_up():
    with pytest.raises(LookupError, match="no-such-route"):
        seed_paths(api_v1, "", ["auth-login", "no-such-route"])


def test_seed_004_curl_examples_as_written(api_client, user):
    # curl -X POST "http://localhost:8000/auth/login" -H "Content-Type: application/json" -d '{"email": …, "password": …}'
    login = api_client.post("/auth/login", {"email": user.email, "password": PASSWORD}, format="json")
    assert login.status_code == 200, login.content
    token = login.json()["access_token"]
    # curl -X GET "http://localhost:8000/users/me" -H "Authorization: Bearer YOUR_TOKEN"
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    me = api_client.get("/users/me")
    assert me.status_code == 200 and me.json()["email"] == user.email
    # curl http://localhost:8000/health
    assert api_client.get("/health").status_code == 200


def test_seed_004_shop_paths_at_the_root(auth_client, user):
    product = ProductFactory(name="Juniper", stock_quantity=3)
    listed = auth_client.get("/products")
    assert listed.status_code == 200 and [p["id"] for p in listed.json()] == [product.pk]
    assert auth_client.get(f"/products/{product.pk}").json()["name"] == "Juniper"
    # Writes stay staff-only, whatever the path.
    assert auth_client.post("/products", {"name": "Pine", "price": "10.00"}, format="json").status_code == 403
    assert list(Product.objects.values_list("name", flat=True)) == ["Juniper"]  # nothing stored
    order = auth_client.post("/orders", {"items": [{"product_id": product.pk, "quantity": 1}]}, format="json")
    assert order.status_code == 201, order.content
    assert auth_client.get(f"/orders/{order.json()['id']}").json()["id"] == order.json()["id"]
    assert [o["id"] for o in auth_client.get("/orders/").json()] == [order.json()["id"]]


def test_seed_002_paths_under_api(api_client):
    registered = api_client.post("/api/auth/register", {"email": "pic@example.com", "password": PASSWORD,
                                                         "name": "Ada", "surname": "Moss"}, format="json")
    assert registered.status_code == 201, registered.content
    credits = api_client.get("/api/credits")
    assert credits.status_code == 200 and "balance" in credits.json()
    assert api_client.get("/api/auth/google/config").json()["enabled"] in (True, False)


def test_unknown_paths_under_the_seed_prefixes_are_the_apis_json_404(api_client, settings):
    settings.DEBUG = True  # as `make run`, where Django would otherwise answer its HTML debug page
    for path in ("/auth/nothing-here", "/products/x/y/z", "/api/nothing-here"):
        response = api_client.get(path)
        assert response.status_code == 404 and response.json()["error"]["code"] == "not_found", path
    # The photogrammetry page keeps /pipeline/ itself.
    assert not is_api_path("/pipeline/") and is_api_path("/pipeline/upload")
    assert not is_api_path("/productsx") and is_api_path("/products") and is_api_path("/products/1")


def test_the_openapi_document_describes_each_endpoint_once_under_api_v1(api_client):
    paths = api_client.get("/api/v1/schema", HTTP_ACCEPT="application/json").json()["paths"]
    assert paths and all(path.startswith("/api/v1/") for path in paths)
    assert "/api/v1/auth/login" in paths
