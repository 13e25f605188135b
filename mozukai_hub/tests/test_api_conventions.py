"""Conventions every app's API inherits: error shape, pagination, CORS, docs, request log."""

import logging

import pytest
from django.test import RequestFactory
from rest_framework.generics import ListAPIView
from rest_framework.permissions import AllowAny
from rest_framework import serializers

from accounts.models import User
from mozukai_hub.testing.fixtures import make_user

pytestmark = pytest.mark.django_db


def test_unknown_api_url_is_a_json_404(client):
    response = client.get("/api/v1/no-such-thing")
    assert response.status_code == 404
    assert response.json() == {"error": {"code": "not_found", "message": "Not found."}}


@pytest.mark.parametrize("method", ["get", "post", "delete"])
def test_unknown_api_url_is_a_json_404_with_debug_on_too(settings, method):
    """`make run` serves with DEBUG on, where Django would answer its HTML debug page (and a
    POST would meet the CSRF check first)."""
    from django.test import Client

    settings.DEBUG = True
    response = getattr(Client(enforce_csrf_checks=True), method)("/api/v1/no-such-thing")
    assert response.status_code == 404
    assert response.json() == {"error": {"code": "not_found", "message": "Not found."}}
    assert Client().get("/no-such-page/").status_code == 404  # pages are untouched


def test_unknown_page_is_an_html_404(client):
    response = client.get("/no-such-page/")
    assert response.status_code == 404 and b"Not found" in response.content


def test_unknown_fields_are_named_in_the_error(api_client):
    response = api_client.post("/api/v1/auth/start", {"email": "a@example.com", "emial": "typo"}, format="json")
    assert response.status_code == 400
    assert response.json()["error"]["fields"] == {"emial": ["Unknown field."]}


def test_a_json_array_instead_of_an_object_is_a_400(api_client):
    response = api_client.post("/api/v1/auth/start", ["a@example.com"], format="json")
    assert response.status_code == 400 and response.json()["error"]["code"] == "validation_error"


def test_wrong_method_is_a_405_in_the_error_shape(api_client):
    response = api_client.delete("/api/v1/auth/start")
    assert response.status_code == 405 and response.json()["error"]["code"] == "method_not_allowed"


class _UserRow(serializers.ModelSerializer):
    class Meta:
        model = User
        fields = ["email"]


class _Users(ListAPIView):
    permission_classes = [AllowAny]
    serializer_class = _UserRow
    queryset = User.objects.order_by("email")


def test_pagination_keeps_an_array_body_and_pages_in_headers():
    for n in range(5):
        make_user(email=f"p{n}@example.com")
    request = RequestFactory().get("/api/v1/users", {"page": 2, "page_size": 2})
    response = _Users.as_view()(request)
    response.render()
    assert [row["email"] for row in response.data] == ["p2@example.com", "p3@example.com"]
    assert response["X-Total-Count"] == "5" and response["X-Page"] == "2" and response["X-Page-Size"] == "2"
    assert 'rel="next"' in response["Link"] and 'rel="prev"' in response["Link"]
    out_of_range = _Users.as_view()(RequestFactory().get("/api/v1/users", {"page": 9}))
    assert out_of_range.status_code == 404


def test_cors_allows_the_spa_origin_with_credentials_and_no_one_else(client):
    preflight = {"HTTP_ORIGIN": "http://localhost:5173", "HTTP_ACCESS_CONTROL_REQUEST_METHOD": "POST"}
    allowed = client.options("/api/v1/auth/login", **preflight)
    assert allowed["Access-Control-Allow-Origin"] == "http://localhost:5173"
    assert allowed["Access-Control-Allow-Credentials"] == "true"
    denied = client.options("/api/v1/auth/login", HTTP_ORIGIN="https://evil.example.com", HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST")
    assert "Access-Control-Allow-Origin" not in denied
    assert "Access-Control-Allow-Credentials" not in denied


@pytest.mark.parametrize("path", ["/api/v1/docs", "/docs", "/api/v1/redoc", "/redoc"])
def test_docs_pages_are_served_without_a_cdn(client, path):
    response = client.get(path)
    assert response.status_code == 200
    assert b"cdn.jsdelivr" not in response.content and b"unpkg.com" not in response.content


def test_openapi_schema_documents_the_auth_api(client):
    response = client.get("/api/v1/schema", HTTP_ACCEPT="application/json")
    assert response.status_code == 200
    paths = response.json()["paths"]
    for path in ("/api/v1/auth/login", "/api/v1/auth/signup", "/api/v1/auth/refresh", "/api/v1/users/me", "/api/v1/auth/google"):
        assert path in paths


def test_each_request_is_logged_once_with_status_and_duration(client, caplog):
    with caplog.at_level(logging.INFO, logger="mozukai_hub.requests"):
        client.get("/api/v1/health")
    lines = [r.getMessage() for r in caplog.records if r.name == "mozukai_hub.requests"]
    assert len(lines) == 1
    method, path, status, duration = lines[0].split()
    assert (method, path, status) == ("GET", "/api/v1/health", "200") and duration.endswith("ms")


def test_the_request_log_never_writes_a_credential(caplog, db):
    """Websocket `?token=`, a visitor's `?visitor_token=` and signed download links carry
    credentials in the URL: the request log masks them and keeps the rest."""
    from django.test import Client

    client = Client()
    with caplog.at_level("INFO", logger="mozukai_hub.requests"):
        client.get("/api/v1/jobs/00000000-0000-0000-0000-000000000000?visitor_token=s3cret-visitor&after=2")
        client.get("/api/v1/health?token=s3cret-access")
        client.get("/api/v1/downloads/s3cret-signed-link")
    logged = "\n".join(record.getMessage() for record in caplog.records if record.name == "mozukai_hub.requests")
    assert "s3cret" not in logged
    assert "visitor_token=%2A%2A%2A&after=2" in logged and "/api/v1/downloads/***" in logged
