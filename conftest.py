"""Suite-wide fixtures and rules.

`make test` runs the suite against a throwaway PostgreSQL and Redis (see
`mozukai_hub/testing/services.py`). Under `CI=true` a skipped test counts as a failure:
CI must run everything.
"""

import os

import pytest

# api_client, user, other_user, auth_client, the autouse cache reset; `page` (Chromium);
# dev_payments, no_dev_payments, stripe_server (the fake Stripe); daphne_server; the stuck-test watchdog.
pytest_plugins = ["mozukai_hub.testing.fixtures", "mozukai_hub.testing.browser", "mozukai_hub.testing.payments",
                  "mozukai_hub.testing.servers", "mozukai_hub.testing.watchdog"]



@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if os.environ.get("CI") == "true" and report.skipped:
        report.outcome = "failed"
        report.longrepr = f"Skipped under CI=true (CI runs every test): {report.longrepr}"
