"""A bounded fuzz of the API's JSON door (issue 16): random nested, unicode and hostile JSON bodies
posted to endpoints anonymous and signed-in callers reach never get a 5xx."""

import json

import pytest
from django.core.cache import cache
from hypothesis import HealthCheck, example, given, settings, strategies as st

# Text as a hostile client writes it: any code point, plus the escapes the parser must refuse.
_HOSTILE = st.sampled_from(["\\ud800", "\\udfff", "\\u0000", "\\ud83d\\ude00", "\\\\ud800", "\\"])
# Numbers that overflow to ±inf when parsed: json.dumps cannot write them (it writes `Infinity`,
# which is not JSON), so the strategy draws a marker string that json_bodies swaps for the text.
_OVERFLOW = {"\uf8ffoverflow+\uf8ff": "1e999", "\uf8ffoverflow-\uf8ff": "-1e999"}
_scalars = st.none() | st.booleans() | st.integers(min_value=-(2**70), max_value=2**70) \
    | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=20) | st.sampled_from(sorted(_OVERFLOW))
_values = st.recursive(_scalars, lambda inner: st.lists(inner, max_size=4)
                       | st.dictionaries(st.text(max_size=8), inner, max_size=4), max_leaves=30)


@st.composite
def json_bodies(draw) -> bytes:
    """Valid JSON with known fields mixed in, then maybe spliced with a hostile escape, extra
    nesting or a cut-off end."""
    value = draw(_values)
    if isinstance(value, dict) and draw(st.booleans()):
        value.update(draw(st.fixed_dictionaries({}, optional={
            "name": _values, "metadata_json": _values, "amount": _values, "email": _values,
            "password": _values, "prompt": _values, "kind": _values, "params": _values})))
    text = json.dumps(value, ensure_ascii=draw(st.booleans()))
    for marker, number in _OVERFLOW.items():
        text = text.replace(json.dumps(marker, ensure_ascii=False), number).replace(json.dumps(marker), number)
    if draw(st.booleans()) and '"' in text:
        at = text.index('"') + 1
        text = text[:at] + draw(_HOSTILE) + text[at:]
    depth = draw(st.sampled_from([0, 0, 10, 63, 64, 65, 2000]))
    text = "[" * depth + text + "]" * depth
    if draw(st.integers(min_value=0, max_value=9)) == 0:
        text = text[: draw(st.integers(min_value=0, max_value=len(text)))]
    return text.encode("utf-8", "surrogatepass")


ENDPOINTS = [
    ("api_client", "POST", "/api/v1/auth/login"),
    ("api_client", "POST", "/api/v1/credits/consume"),
    ("auth_client", "POST", "/api/v1/sessions"),
    ("auth_client", "POST", "/api/v1/asset-meta"),
    ("auth_client", "PATCH", "/api/v1/users/me"),
]


@pytest.mark.django_db
@pytest.mark.parametrize("client_name, method, path", ENDPOINTS)
@settings(max_examples=25, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(body=json_bodies())
@example(body=b'{"name": "s", "metadata_json": {"x": 1e999}, "kind": "text_to_3d", "params": {"scale": -1e999}}')
def test_random_json_bodies_never_reach_a_5xx(request, client_name, method, path, body):
    cache.clear()  # the throttles (5/min on login) would answer 429 before the parser runs
    client = request.getfixturevalue(client_name)
    response = client.generic(method, path, body, content_type="application/json")
    assert response.status_code < 500, (body[:300], response.content[:300])
    assert response["Content-Type"].startswith("application/json")
