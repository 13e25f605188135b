"""Hostile input never reaches a 500 and never poisons stored data (issue 16, items 1-8 and 11).

The checks live in shared layers (the JSON parser, StrictSerializer's field mapping, the error
handler and middleware, daphne's request head handling, settings checks), so each test drives a
real endpoint through the full stack."""

import json
import os
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from django.core.management import call_command
from django.test import Client
from rest_framework import serializers

from chat.models import Session
from mozukai_hub.api.fields import JSONInputError, json_loads_checked
from mozukai_hub.api.seed_paths import is_api_path
from mozukai_hub.api.serializers import StrictSerializer
from mozukai_hub.testing.routes import SAMPLE_VALUES, all_routes, route_example
from mozukai_hub.tests.test_production_settings import manage, production_env
from pipeline.models import AssetMeta, Job

ROOT = Path(__file__).resolve().parents[2]


def post_json(client, path: str, text: str | bytes):
    """POST raw JSON text (escapes such as \\ud800 arrive exactly as a hostile client sends them)."""
    return client.generic("POST", path, text.encode() if isinstance(text, str) else text,
                          content_type="application/json")


def assert_error(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.content[:500]
    assert response["Content-Type"].startswith("application/json")
    error = response.json()["error"]
    assert error["code"] == code, error
    return error


# --- 1. nesting depth ----------------------------------------------------------------------

@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/api/v1/credits/consume", "/api/v1/auth/login"])
def test_deeply_nested_json_is_a_400_for_anonymous_callers(api_client, path):
    error = assert_error(post_json(api_client, path, "[" * 10_000 + "]" * 10_000), 400, "validation_error")
    assert "Nested deeper than 64 levels" in error["message"]
    # Deep but not recursion-deep, inside an object: the path of the too-deep value is named.
    body = '{"amount": ' + "[" * 65 + "]" * 65 + "}"
    error = assert_error(post_json(api_client, path, body), 400, "validation_error")
    assert list(error["fields"]) == ["amount" + ".0" * 63]


def test_the_depth_limit_is_64_levels_and_checked_without_recursion(settings):
    assert json_loads_checked(b"[" * 64 + b"]" * 64) is not None
    with pytest.raises(JSONInputError):
        json_loads_checked(b"[" * 65 + b"]" * 65)
    with pytest.raises(JSONInputError):
        json_loads_checked(b'{"a":' * 100_000 + b"1" + b"}" * 100_000)  # past the interpreter's recursion limit
    settings.API_JSON_MAX_DEPTH = 3
    with pytest.raises(JSONInputError):
        json_loads_checked(b"[[[[]]]]")


# --- 2, 3. lone surrogates and NUL characters ---------------------------------------------

@pytest.mark.django_db
@pytest.mark.parametrize("text, field", [
    ('{"name": "s", "metadata_json": {"note": "\\ud800"}}', "metadata_json.note"),
    ('{"name": "s", "metadata_json": {"\\udfff": 1}}', "metadata_json"),
    ('{"name": "s", "metadata_json": {"tags": ["ok", "\\u0000"]}}', "metadata_json.tags.1"),
    ('{"name": "s", "metadata_json": {"a\\u0000b": 1}}', "metadata_json"),
    ('{"name": "s\\u0000", "metadata_json": {}}', "name"),
    ('{"name": "\\udc00\\ud800"}', "name"),
])
def test_lone_surrogates_and_nul_in_a_session_are_a_400_naming_the_field(auth_client, text, field):
    error = assert_error(post_json(auth_client, "/api/v1/sessions", text), 400, "validation_error")
    assert list(error["fields"]) == [field]
    assert Session.objects.count() == 0
    listing = auth_client.get("/api/v1/sessions")
    assert listing.status_code == 200 and listing.json() == []


@pytest.mark.django_db
def test_lone_surrogates_and_nul_in_job_params_and_asset_meta_are_refused(auth_client):
    error = assert_error(post_json(auth_client, "/api/v1/jobs",
                                   '{"kind": "text_to_3d", "params": {"prompt": "a pot \\ud83d"}}'), 400, "validation_error")
    assert list(error["fields"]) == ["params.prompt"]
    error = assert_error(post_json(auth_client, "/api/v1/jobs", '{"prompt": "a pot\\u0000"}'), 400, "validation_error")
    assert list(error["fields"]) == ["prompt"]
    body = '{"asset_id": "%s", "material_json": {"finish": "\\udfff"}}' % uuid.uuid4()
    error = assert_error(post_json(auth_client, "/api/v1/asset-meta", body), 400, "validation_error")
    assert list(error["fields"]) == ["material_json.finish"]
    assert Job.objects.count() == 0 and AssetMeta.objects.count() == 0


@pytest.mark.django_db
def test_nul_in_form_fields_json_form_fields_and_query_strings_is_a_400(auth_client):
    form = "application/x-www-form-urlencoded"
    response = auth_client.generic("POST", "/api/v1/sessions", "name=a%00b", content_type=form)
    assert assert_error(response, 400, "validation_error")["fields"].keys() == {"name"}
    # A JSON field sent as form text is parsed by the same checks as a JSON body.
    for value in ("%7B%22a%22%3A%22%5Cu0000%22%7D", "%7B%22a%22%3A%22%5Cud800%22%7D", "%5B" * 5000):
        response = auth_client.generic("POST", "/api/v1/sessions", f"name=s&metadata_json={value}", content_type=form)
        assert assert_error(response, 400, "validation_error")["fields"].keys() == {"metadata_json"}
    assert Session.objects.count() == 0
    assert_error(auth_client.get("/api/v1/products?search=%00"), 400, "bad_request")
    assert_error(auth_client.get("/api/v1/jobs?kind=a%00"), 400, "bad_request")
    assert_error(auth_client.get("/api/v1/products/a%00b"), 400, "bad_request")


# --- non-finite numbers --------------------------------------------------------------------
# `1e999` is a valid JSON number that Python parses to inf: PostgreSQL's jsonb refuses it (a 500),
# SQLite stores `Infinity` and every later read fails to render as strict JSON (a 500 for ever).

@pytest.mark.django_db
@pytest.mark.parametrize("text, field", [
    ('{"name": "s", "metadata_json": {"x": 1e999}}', "metadata_json.x"),
    ('{"name": "s", "metadata_json": {"tags": [1.5, -1e999]}}', "metadata_json.tags.1"),
    ('{"name": "s", "metadata_json": {"x": 123456789e400}}', "metadata_json.x"),
])
def test_numbers_that_overflow_to_infinity_in_a_session_are_a_400_naming_the_path(auth_client, text, field):
    error = assert_error(post_json(auth_client, "/api/v1/sessions", text), 400, "validation_error")
    assert list(error["fields"]) == [field]
    assert "not finite" in error["fields"][field][0]
    assert Session.objects.count() == 0
    listing = auth_client.get("/api/v1/sessions")
    assert listing.status_code == 200 and listing.json() == []
    # The largest finite doubles are ordinary numbers.
    created = post_json(auth_client, "/api/v1/sessions", '{"name": "s", "metadata_json": {"x": 1.7e308, "y": -1e-999}}')
    assert created.status_code == 201, created.content
    stored = auth_client.get("/api/v1/sessions").json()[0]["metadata_json"]
    assert float(stored["x"]) == 1.7e308 and float(stored["y"]) == 0  # (PostgreSQL writes numerics out in full)


@pytest.mark.django_db
def test_numbers_that_overflow_to_infinity_in_job_params_bodies_and_form_fields_are_refused(auth_client, api_client):
    error = assert_error(post_json(auth_client, "/api/v1/jobs", '{"kind": "text_to_3d", "params": {"scale": 1e999}}'),
                         400, "validation_error")
    assert list(error["fields"]) == ["params.scale"]
    error = assert_error(post_json(api_client, "/api/v1/credits/consume", "-1e999"), 400, "validation_error")
    assert list(error["fields"]) == ["non_field_errors"]
    form = "application/x-www-form-urlencoded"
    response = auth_client.generic("POST", "/api/v1/sessions", "name=s&metadata_json=%7B%22x%22%3A1e999%7D", content_type=form)
    assert assert_error(response, 400, "validation_error")["fields"].keys() == {"metadata_json"}
    assert Session.objects.count() == 0 and Job.objects.count() == 0
    with pytest.raises(JSONInputError) as caught:
        json_loads_checked('{"a": [0, {"b": 1E+999}]}')
    assert caught.value.path == "a.1.b"


@pytest.mark.parametrize("number", [float("inf"), float("-inf"), float("nan")])
def test_a_json_field_refuses_python_floats_that_are_not_finite(number):
    class Body(StrictSerializer):
        data = serializers.JSONField()

    body = Body(data={"data": {"list": [1, number]}})
    assert not body.is_valid()
    assert str(body.errors["data"][0]).startswith("list.1: This number is not finite")


# --- 4. OPTIONS on every route --------------------------------------------------------------

def _api_paths():
    """Every API route of the URLconf (/api/… and seed 004's root paths), with sample values in
    place of its parameters; regex routes are only the catch-alls (covered by any unknown path)."""
    for route, _ in all_routes():
        example = route_example(route)
        if example is not None and is_api_path(example):
            yield example


@pytest.mark.django_db
def test_options_answers_on_every_api_route_without_a_5xx(auth_client, settings):
    # One request per route: more routes than the per-user rate allows in a minute.
    rates = settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {**rates, "user": "100000/min"}}
    paths = sorted(set(_api_paths()))
    assert "/api/v1/sessions/" + SAMPLE_VALUES["uuid"] in paths and "/products/sample" in paths and len(paths) > 40
    failures = {}
    for path in paths:
        response = auth_client.options(path)
        if response.status_code >= 500:
            failures[path] = response.status_code
    assert failures == {}
    response = auth_client.options(f"/api/v1/sessions/{SAMPLE_VALUES['uuid']}")
    assert response.status_code == 200
    assert {"GET", "PATCH", "DELETE", "OPTIONS"} <= set(response.json()["methods"])


# --- 5. a 500 under /api/ is JSON with DEBUG on -------------------------------------------

@pytest.mark.django_db
@pytest.mark.parametrize("debug", [True, False])
def test_an_api_500_is_the_json_error_shape_in_every_mode(settings, caplog, debug):
    settings.DEBUG = debug
    settings.ROOT_URLCONF = "mozukai_hub.tests.urls_raising"
    client = Client(raise_request_exception=False)
    for path, what in [("/api/v1/test-raises", "an API view broke"), ("/api/v1/test-raises-plain", "a plain view broke")]:
        caplog.clear()
        response = client.get(path)
        assert_error(response, 500, "server_error")
        assert what not in response.content.decode()  # no traceback or message leaks to the client
        logged = [r for r in caplog.records if r.name == "django.request" and r.exc_info]
        assert len(logged) == 1 and what in str(logged[0].exc_info[1])
    assert_error(client.get("/api/v1/no-such-route"), 404, "not_found")
    page = client.get("/test-raises-page")  # pages keep Django's own answer
    assert page.status_code == 500 and page["Content-Type"].startswith("text/html")


@pytest.mark.django_db
def test_an_api_500_still_reaches_the_test_client_as_the_exception(settings):
    settings.ROOT_URLCONF = "mozukai_hub.tests.urls_raising"
    with pytest.raises(RuntimeError, match="an API view broke"):
        Client().get("/api/v1/test-raises")


# --- 6. sizes -----------------------------------------------------------------------------

@pytest.mark.django_db
def test_json_fields_have_a_size_depth_and_item_limit(auth_client):
    for metadata, complaint in [
        ({"blob": "x" * (9 * 1024 * 1024)}, "Larger than 65536 bytes"),
        ({"blob": "x" * 70_000}, "Larger than 65536 bytes"),
        ({str(n): n for n in range(1001)}, "More than 1000 keys"),
        ({"a": json.loads("[" * 16 + "]" * 16)}, "Nested deeper than 16 levels"),
    ]:
        response = auth_client.post("/api/v1/sessions", {"name": "s", "metadata_json": metadata}, format="json")
        error = assert_error(response, 400, "validation_error")
        assert list(error["fields"]) == ["metadata_json"] and complaint in error["fields"]["metadata_json"][0]
    for field in ("position_json", "image_paths_json", "material_json", "used_for_json"):
        response = auth_client.post("/api/v1/asset-meta", {"asset_id": str(uuid.uuid4()), field: ["x" * 70_000]},
                                    format="json")
        assert list(assert_error(response, 400, "validation_error")["fields"]) == [field]
    response = auth_client.post("/api/v1/jobs", {"kind": "text_to_3d", "params": {"prompt": "p" * 70_000}}, format="json")
    assert list(assert_error(response, 400, "validation_error")["fields"]) == ["params"]
    assert Session.objects.count() == 0 and Job.objects.count() == 0
    response = auth_client.post("/api/v1/sessions", {"name": "s", "metadata_json": {"blob": "x" * 60_000}}, format="json")
    assert response.status_code == 201, response.content[:300]


@pytest.mark.django_db
def test_a_body_over_the_data_limit_is_the_json_413(api_client, auth_client, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    body = json.dumps({"email": "a@example.com", "password": "x" * 2000})
    assert_error(post_json(api_client, "/api/v1/auth/login", body), 413, "request_too_large")
    # (Sign-in takes JSON only, against login CSRF: a form goes to an endpoint that takes forms.)
    form = f"name=s&metadata_json={'x' * 2000}"
    response = auth_client.generic("POST", "/api/v1/sessions", form, content_type="application/x-www-form-urlencoded")
    assert_error(response, 413, "request_too_large")
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024
    settings.API_JSON_MAX_BODY_BYTES = 1000
    assert_error(post_json(api_client, "/api/v1/auth/login", body), 413, "request_too_large")


# --- 7. integers --------------------------------------------------------------------------

@pytest.mark.django_db
def test_integers_past_their_bounds_are_refused_in_query_parameters(api_client):
    for quantity in ("9223372036854775808", "10001", "-1", "1e3", "9" * 5000):
        response = api_client.get(f"/api/v1/credits/quote?item=text_to_3d&quantity={quantity}")
        assert list(assert_error(response, 400, "validation_error")["fields"]) == ["quantity"]
    response = api_client.get("/api/v1/credits/quote?item=text_to_3d&quantity=3")
    assert response.status_code == 200 and response.json()["quantity"] == 3


def test_every_integer_field_of_an_input_serializer_is_bounded():
    class Input(StrictSerializer):
        count = serializers.IntegerField()
        at_least_one = serializers.IntegerField(min_value=1)
        own_bounds = serializers.IntegerField(min_value=0, max_value=2**40)
        counts = serializers.ListField(child=serializers.IntegerField())

    ok = {"count": 2**31 - 1, "at_least_one": 1, "own_bounds": 2**40, "counts": [-(2**31 - 1)]}
    assert Input(data=ok).is_valid()
    for field, value in [("count", 2**63), ("count", -(2**31)), ("at_least_one", 2**31), ("counts", [2**64])]:
        data = Input(data={**ok, field: value})
        assert not data.is_valid() and list(data.errors) == [field]


# --- 8. oversized request heads -------------------------------------------------------------

def _exchange(port: int, request: bytes, timeout: float = 10) -> bytes:
    """Send `request`; everything the server answers until it closes (or `timeout`)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        try:
            sock.sendall(request)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server may answer and close before it has read all of it
        answer, deadline = b"", time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                chunk = sock.recv(65536)
            except socket.timeout:
                break
            except ConnectionResetError:
                break
            if not chunk:
                break
            answer += chunk
        return answer


def _port(start) -> int:
    """Start a server with `start` (the daphne_server / gunicorn_server fixture); its port."""
    return urlsplit(start(DJANGO_SETTINGS_MODULE="mozukai_hub.settings")).port


@pytest.fixture
def daphne_port(daphne_server):
    return _port(daphne_server)


def _head(path: bytes, headers: list[bytes]) -> bytes:
    return b"GET " + path + b" HTTP/1.1\r\nHost: 127.0.0.1\r\n" + b"".join(h + b"\r\n" for h in headers) + b"\r\n"


@pytest.mark.slow
def test_daphne_answers_an_oversized_request_head_instead_of_dropping_it(daphne_port):
    big = b"X-Big: " + b"a" * (17 * 1024)
    answer = _exchange(daphne_port, _head(b"/api/v1/health", [big]))
    assert answer.startswith(b"HTTP/1.1 431 "), answer[:300]
    head, _, body = answer.partition(b"\r\n\r\n")
    assert b"application/json" in head and json.loads(body)["error"]["code"] == "request_header_fields_too_large"
    # 16 KiB in several headers (Twisted's total limit): the same answer, no longer a bare 400.
    answer = _exchange(daphne_port, _head(b"/api/v1/health", [b"X-Part-%d: " % n + b"b" * 6000 for n in range(3)]))
    assert answer.startswith(b"HTTP/1.1 431 ") and b'"request_header_fields_too_large"' in answer, answer[:300]
    # Seed 004's root API paths too, with a query string (the request target as sent).
    answer = _exchange(daphne_port, _head(b"/products?page=1", [big]))
    assert answer.startswith(b"HTTP/1.1 431 ") and b'"request_header_fields_too_large"' in answer, answer[:300]
    answer = _exchange(daphne_port, _head(b"/shop/", [big]))
    assert answer.startswith(b"HTTP/1.1 431 ") and b"text/plain" in answer, answer[:300]
    answer = _exchange(daphne_port, _head(b"/api/v1/health?" + b"q" * (17 * 1024), []))
    assert answer.startswith(b"HTTP/1.1 414 "), answer[:300]
    # An ordinary request on a fresh connection is served as before.
    answer = _exchange(daphne_port, _head(b"/api/v1/health", [b"X-Small: 1", b"Connection: close"]))
    assert answer.startswith(b"HTTP/1.1 "), answer[:300]
    assert not answer.startswith((b"HTTP/1.1 4", b"HTTP/1.1 5")), answer[:300]


@pytest.mark.slow
def test_gunicorn_answers_an_oversized_header_with_431(gunicorn_server):
    answer = _exchange(_port(gunicorn_server), _head(b"/api/v1/health", [b"X-Big: " + b"a" * (17 * 1024)]))
    assert answer.startswith(b"HTTP/1.1 431 "), answer[:300]


# --- 11. production origins ---------------------------------------------------------------

def test_production_requires_allowed_origins_to_be_set_and_trusts_no_localhost():
    result = manage("check", **production_env(ALLOWED_ORIGINS=None))
    assert result.returncode != 0 and "mozukai_hub.E001" in result.stderr, result.stdout + result.stderr
    result = manage("check", **production_env(ALLOWED_ORIGINS="http://localhost:5173"))
    assert result.returncode != 0 and "mozukai_hub.E002" in result.stderr, result.stdout + result.stderr
    result = manage("check", **production_env(ALLOWED_ORIGINS=""))  # explicitly none: no cross-origin client
    assert result.returncode == 0, result.stdout + result.stderr
    probe = "from django.conf import settings; print(settings.CORS_ALLOWED_ORIGINS, settings.CSRF_TRUSTED_ORIGINS)"
    result = manage("shell", "-c", probe, **production_env(ALLOWED_ORIGINS=None))
    assert result.stdout.strip().splitlines()[-1] == "[] []", result.stdout + result.stderr


# --- 2. the data check --------------------------------------------------------------------

@pytest.mark.django_db
def test_check_json_data_is_clean_on_clean_data(user, capsys):
    Session.objects.create(owner=user, name="fine", metadata_json={"note": "ünïcode ✓", "n": [1, {"a": None}]})
    call_command("check_json_data")
    assert "OK:" in capsys.readouterr().out


@pytest.mark.slow
def test_check_json_data_names_rows_already_poisoned_on_sqlite(tmp_path):
    """Rows the old code let SQLite store (PostgreSQL refused them): found and named."""
    env = {name: value for name, value in os.environ.items() if not name.startswith(("DATABASE_", "REDIS_"))}
    env.update(DJANGO_SETTINGS_MODULE="mozukai_hub.settings", DJANGO_ENV="development", DATABASE_URL="",
               REDIS_URL="", SQLITE_PATH=str(tmp_path / "db.sqlite3"))

    def run(*args):
        return subprocess.run([sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)

    assert run("manage.py", "migrate", "-v", "0").returncode == 0
    poison = r"""
import django, uuid
django.setup()
from django.db import connection
from accounts.models import User
from chat.models import Session
owner = User.objects.create_user(email="o@example.com", password="Moss-and-Granite-42", username="o")
clean = Session.objects.create(owner=owner, name="clean", metadata_json={"a": 1})
table = Session._meta.db_table
with connection.cursor() as cursor:
    for name, text in [("surrogate", '{"note": "\\ud800"}'), ("key", '{"\\udfff": 1}'), ("nul", '{"a": "\\u0000"}'),
                       ("inf", '{"x": 1E+999}'), ("overflow", '{"n": [1, -1e999]}')]:
        cursor.execute(
            f"INSERT INTO {table} (id, owner_id, name, status, metadata_json, created_at, updated_at) "
            "VALUES (%s, %s, %s, 'active', %s, '2026-01-01', '2026-01-01')",
            [uuid.uuid4().hex, owner.pk.hex if hasattr(owner.pk, "hex") else owner.pk, name, text])
    cursor.execute(f"UPDATE {table} SET name = 'nul' || char(0) WHERE id = %s", [clean.pk.hex])
"""
    done = run("-c", poison)
    assert done.returncode == 0, done.stderr
    result = run("manage.py", "check_json_data")
    assert result.returncode == 1, result.stdout + result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith("chat.Session")]
    assert len(lines) == 6, result.stderr
    assert sum("metadata_json at note: This value contains a lone UTF-16 surrogate" in line for line in lines) == 1
    assert sum("metadata_json at (top): A key contains a lone UTF-16 surrogate" in line for line in lines) == 1
    assert sum("metadata_json at a: This value contains a NUL character" in line for line in lines) == 1
    assert sum(" name contains a NUL character" in line for line in lines) == 1
    # Numbers the old parser let through as inf (SQLite keeps the text; reading it gives inf).
    assert sum("metadata_json at x: This number is not finite" in line for line in lines) == 1
    assert sum("metadata_json at n.1: This number is not finite" in line for line in lines) == 1
