"""Production settings refuse to start without what they need, and pass `check --deploy`."""

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def manage(*args, **env):
    base = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL", "SECRET_KEY", "DEBUG", "ALLOWED_HOSTS", "SITE_URL", "ALLOWED_ORIGINS"}}
    return subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env={**base, **env}, capture_output=True, text=True, timeout=120)


def production_env(**overrides):
    env = {
        "DJANGO_ENV": "production",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "DATABASE_URL": os.environ["DATABASE_URL"],
        "REDIS_URL": os.environ["REDIS_URL"],
        "ALLOWED_HOSTS": "shop.example.com",
        "SITE_URL": "https://shop.example.com",
        "ALLOWED_ORIGINS": "https://app.example.com",
        "STRIPE_SECRET_KEY": "sk_test_" + "x" * 24,
        "STRIPE_PUBLISHABLE_KEY": "pk_test_" + "x" * 24,
        "STRIPE_WEBHOOK_SECRET": "whsec_" + "x" * 24,
        **overrides,
    }
    return {k: v for k, v in env.items() if v is not None}


def test_check_deploy_is_clean_under_production_settings():
    result = manage("check", "--deploy", "--fail-level", "WARNING", **production_env())
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


@pytest.mark.parametrize(
    "overrides, complaint",
    [
        ({"SECRET_KEY": None}, "SECRET_KEY"),
        ({"DATABASE_URL": None}, "DATABASE_URL"),
        ({"REDIS_URL": None}, "REDIS_URL"),
        ({"ALLOWED_HOSTS": None}, "ALLOWED_HOSTS"),
        ({"SITE_URL": None}, "SITE_URL"),
        ({"DATABASE_URL": "sqlite:///tmp/x.sqlite3"}, "PostgreSQL"),
        ({"DEBUG": "true"}, "DEBUG"),
    ],
)
def test_production_refuses_to_start_without_its_services(overrides, complaint):
    result = manage("check", **production_env(**overrides))
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr and complaint in result.stderr
