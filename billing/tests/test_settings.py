"""Production refuses to start without Stripe secrets, and never runs dev payment mode."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PRODUCTION = {
    "DJANGO_ENV": "production", "SECRET_KEY": "x" * 60, "DATABASE_URL": "postgres://u@127.0.0.1:1/x",
    "REDIS_URL": "redis://127.0.0.1:1/0", "ALLOWED_HOSTS": "shop.example.com", "DEBUG": "false",
    "SITE_URL": "https://shop.example.com",
}
PROBE = "import django; django.setup(); from django.conf import settings; print(settings.BILLING_DEV_PAYMENTS)"


def settings_probe(**env):
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("STRIPE_", "DJANGO_", "DATABASE_", "REDIS_"))}
    return subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT, capture_output=True, text=True, timeout=60,
                          env={**clean, "DJANGO_SETTINGS_MODULE": "mozukai_hub.settings", **env})


@pytest.mark.parametrize("missing", ["STRIPE_SECRET_KEY", "STRIPE_WEBHOOK_SECRET"])
def test_production_refuses_to_start_without_stripe_secrets(missing):
    env = {**PRODUCTION, "STRIPE_SECRET_KEY": "sk_live_x", "STRIPE_WEBHOOK_SECRET": "whsec_x"}
    env.pop(missing)
    result = settings_probe(**env)
    assert result.returncode != 0
    assert f"Production settings need: {missing}" in result.stderr


def test_dev_payment_mode_only_without_a_key_and_with_debug():
    assert settings_probe(**PRODUCTION, STRIPE_SECRET_KEY="sk_live_x", STRIPE_WEBHOOK_SECRET="whsec_x").stdout.strip() == "False"
    assert settings_probe(DEBUG="true").stdout.strip() == "True"
    assert settings_probe(DEBUG="false").stdout.strip() == "False"
    assert settings_probe(DEBUG="true", STRIPE_SECRET_KEY="sk_test_x").stdout.strip() == "False"
