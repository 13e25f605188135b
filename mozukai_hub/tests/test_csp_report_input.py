"""The anonymous CSP report endpoint answers a hostile body with a 400, never a 500."""

import json

import pytest

from mozukai_hub.security_headers import REPORT_MAX_BYTES


@pytest.mark.django_db
@pytest.mark.parametrize("body", [
    b"[" * REPORT_MAX_BYTES,  # plain json.loads: RecursionError, an anonymous 500
    b'{"csp-report": ' + b"[" * 1000 + b"]" * 1000 + b"}",
    b'{"csp-report": {"blocked-uri": "\xff\xfe"}}',  # not UTF-8
    b'{"csp-report": {"line-number": NaN}}',
])
def test_a_report_body_that_is_not_bounded_json_is_a_400(client, body):
    response = client.post("/csp-report", body, content_type="application/csp-report")
    assert response.status_code == 400, response.content[:300]
    assert response.json() == {"error": {"code": "bad_request", "message": "A report is JSON."}}


@pytest.mark.django_db
def test_a_report_still_logs_after_a_hostile_one(client, caplog):
    assert client.post("/csp-report", b"[" * REPORT_MAX_BYTES, content_type="application/csp-report").status_code == 400
    report = {"csp-report": {"document-uri": "http://testserver/", "violated-directive": "img-src",
                             "blocked-uri": "https://evil.example/p.png"}}
    response = client.post("/csp-report", json.dumps(report), content_type="application/csp-report")
    assert response.status_code == 204
    assert any("img-src blocked https://evil.example/p.png" in r.getMessage() for r in caplog.records)
