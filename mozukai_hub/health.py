"""Health: the state of each data-bearing service, 503 when one of them is down."""

import logging
import time
import uuid

from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django_q.brokers import get_broker

logger = logging.getLogger(__name__)


def _timed(check) -> dict:
    started = time.perf_counter()
    try:
        detail = check()
    except Exception as exc:  # any failure of the dependency means "down"; it is reported, not hidden
        logger.warning("health check %s failed: %r", check.__name__, exc)
        return {"ok": False, "error": f"{type(exc).__name__}: {exc}"[:300]}
    return {"ok": True, "ms": round((time.perf_counter() - started) * 1000, 1), **(detail or {})}


def _database():
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    return {"vendor": connection.vendor}


def _cache():
    key, value = f"health:{uuid.uuid4().hex}", "1"
    cache.set(key, value, 10)
    if cache.get(key) != value:
        raise RuntimeError("cache did not return what was written")
    cache.delete(key)
    return {"backend": settings.CACHES["default"]["BACKEND"].rsplit(".", 1)[-1]}


def _task_broker():
    broker = get_broker()
    if settings.Q_CLUSTER.get("orm"):
        _database()  # the ORM broker is the database
    elif not broker.ping():
        raise RuntimeError("broker did not answer ping")
    return {"broker": broker.info()}


def health_state() -> dict:
    checks = {"database": _timed(_database), "cache": _timed(_cache), "task_broker": _timed(_task_broker)}
    return {"status": "ok" if all(c["ok"] for c in checks.values()) else "unavailable", "checks": checks}


@never_cache
def health(request):
    state = health_state()
    return JsonResponse(state, status=200 if state["status"] == "ok" else 503)
