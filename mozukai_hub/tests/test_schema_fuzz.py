"""schemathesis over every operation of /api/v1/schema (issue 15, "probed like an attacker would").

Each operation is called with generated requests (valid and invalid) as an anonymous caller, a user
and a member of staff, through the Django WSGI application (no server): no 5xx, every status code
documented, every response body and content type as the schema says. The example count is bounded
so that the whole file stays within its CI budget (2 cores).
"""

import os

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.db import close_old_connections, connections
from hypothesis import HealthCheck, Phase
from hypothesis import settings as hypothesis_settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from werkzeug.test import Client

from accounts.tokens import token_pair_issue
from mozukai_hub.testing.fixtures import make_user
from mozukai_hub.wsgi import application

# 3 per operation and caller in CI (about 1,000 requests); raise it for a deeper local run:
# SCHEMATHESIS_MAX_EXAMPLES=100 .venv/bin/python -m mozukai_hub.testing.services -- .venv/bin/pytest <this file>
MAX_EXAMPLES = int(os.environ.get("SCHEMATHESIS_MAX_EXAMPLES", "3"))
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]

# Loaded once, at collection, from the schema view as clients read it (no database needed).
schema = schemathesis.openapi.from_wsgi("/api/v1/schema", application, headers={"Accept": "application/json"})
# That request ran at collection, before the test database exists: close what it opened. psycopg's
# pool keeps the database name it was made with, so left open it would carry on pointing at the
# main database, and the test database would be migrated and used through it while processes
# the tests start (workers, servers) found the real test database empty.
for _connection in connections.all():
    _connection.close()
    if hasattr(_connection, "close_pool"):
        _connection.close_pool()


@pytest.fixture
def wsgi_in_transaction():
    """Requests reach the WSGI application directly: like Django's test client, keep the test's
    connection (and its transaction) open between requests."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def caller_headers(request, db, settings, wsgi_in_transaction):
    rates = settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK,
                               "DEFAULT_THROTTLE_RATES": {key: "100000/min" for key in rates}}
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # sign-in is fuzzed, not timed
    role = request.param
    if role == "anonymous":
        return {}
    user = make_user(is_staff=role == "staff")
    return {"Authorization": f"Bearer {token_pair_issue(user=user).access}"}


@pytest.mark.django_db
@pytest.mark.parametrize("caller_headers", ["anonymous", "user", "staff"], indirect=True)
@schema.parametrize()
@hypothesis_settings(max_examples=MAX_EXAMPLES, deadline=None, database=None, derandomize=MAX_EXAMPLES <= 3,
                     phases=[Phase.generate], suppress_health_check=list(HealthCheck))
def test_every_operation_answers_as_documented(case, caller_headers):
    case.call_and_validate(headers=caller_headers, checks=CHECKS)


def test_every_operation_documents_its_errors_in_the_one_error_shape():
    raw = schema.raw_schema
    error = raw["components"]["schemas"]["Error"]
    assert error["required"] == ["error"] and error["properties"]["error"]["required"] == ["code", "message"]
    operations = [(path, method, op) for path, item in raw["paths"].items() for method, op in item.items()
                  if method in {"get", "post", "put", "patch", "delete"}]
    assert len(operations) > 100
    for path, method, operation in operations:
        responses = operation["responses"]
        expected = {"400", "401", "403", "429"}
        if method in {"post", "put", "patch", "delete"}:
            expected |= {"402", "404", "409"}
        if "{" in path or any(p["in"] == "query" for p in operation.get("parameters", [])):
            expected.add("404")
        if "requestBody" in operation:
            expected |= {"413", "415"}
        assert expected <= set(responses), (method, path, sorted(responses))
        for status in expected:
            content = responses[status]["content"]["application/json"]["schema"]
            assert content == {"$ref": "#/components/schemas/Error"}, (method, path, status)


@pytest.mark.django_db
def test_an_asset_recorded_without_a_job_answers_as_its_schema_says(wsgi_in_transaction):
    """Found by the fuzzing above: `job_id` is null for an asset of no job, and the schema said
    it was always a uuid."""
    user = make_user()
    client = Client(application)
    response = client.post("/api/v1/assets", json={"asset_type": "glb", "uri": "models/pot.glb"},
                           headers={"Authorization": f"Bearer {token_pair_issue(user=user).access}"})
    assert response.status_code == 201 and response.json["job_id"] is None
    schema["/api/v1/assets"]["POST"].validate_response(response)
