"""Benchmark: a page of 50 products, four ways, in one run.

    .venv/bin/pip install -r bench/requirements.txt      # once: FastAPI, uvicorn, asyncpg, orjson
    .venv/bin/python bench/api.py [--seconds 12] [--rounds 4] [--concurrency 16] [--workers 4]

Loads 1,000 products in 20 categories into PostgreSQL (a throwaway cluster and Redis from
`mozukai_hub.testing.services` when DATABASE_URL / REDIS_URL are unset), serves the app as the
README's production section says (DJANGO_ENV=production, gunicorn sync workers, Redis cache),
and measures requests/s and p50/p99 latency for:

  cached     GET /api/v1/products?page_size=50          (the shop API, served from the cache)
  uncached   the same with a filter value that is new on every request (a cache miss + fill)
  plain      a plain Django view returning the same rows with `.values()` (same gunicorn)
  fastapi    FastAPI + asyncpg + orjson answering the same JSON from the same database
             (the seed authors' stack; uvicorn with the same number of workers)

Every request opens a new connection (`Connection: close`): gunicorn's sync workers do not
keep connections alive, so all four pay the same price. The client is one asyncio process on
the same machine. It prints the figures, the ratios against the issue's targets, and the
number of database queries per list request; it exits 1 when a target is missed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench._processes import free_port, stop  # noqa: E402

LIST_PATH = "/api/v1/products?page_size=50"
PLAIN_PATH = "/bench/plain-products?page_size=50"
FASTAPI_PATH = "/products?page_size=50"
FIELDS = ("id", "name", "slug", "description", "price", "currency", "category", "category_id", "category_name",
          "image_url", "model_url", "stock_quantity", "in_stock", "is_active", "created_at", "updated_at")


# --- The two comparison apps (imported by gunicorn / uvicorn from this module) -------------


def _image_url(name: str) -> str | None:
    return f"/shop/images/{name.rsplit('/', 1)[-1]}" if name else None


def plain_products(request):
    """(a) A plain Django view: the same rows with `.values()`, no DRF, no cache."""
    from django.http import HttpResponse

    from catalog.models import Product

    size = int(request.GET.get("page_size", 50))
    page = int(request.GET.get("page", 1))
    qs = Product.objects.filter(is_active=True).order_by("name", "id")
    total = qs.count()
    rows = list(qs.values("id", "name", "slug", "description", "price", "currency", "category__slug", "category_id",
                          "category__name", "image", "model_asset_id", "stock_quantity", "is_active", "created_at",
                          "updated_at")[(page - 1) * size: page * size])
    data = [{
        "id": r["id"], "name": r["name"], "slug": r["slug"], "description": r["description"], "price": str(r["price"]),
        "currency": r["currency"], "category": r["category__slug"], "category_id": r["category_id"],
        "category_name": r["category__name"], "image_url": _image_url(r["image"]),
        "model_url": f"/shop/models/{r['id']}.glb" if r["model_asset_id"] else None,
        "stock_quantity": r["stock_quantity"], "in_stock": r["stock_quantity"] > 0, "is_active": r["is_active"],
        "created_at": r["created_at"].isoformat(), "updated_at": r["updated_at"].isoformat(),
    } for r in rows]
    return HttpResponse(json.dumps(data), content_type="application/json", headers={"X-Total-Count": str(total)})


def __getattr__(name: str):
    # `urlpatterns`: this module is the bench server's ROOT_URLCONF (the project's URLs plus
    # the plain view). `django_application`: gunicorn's WSGI entry point.
    if name == "urlpatterns":
        from django.urls import include, path

        return [path("bench/plain-products", plain_products), path("", include("mozukai_hub.urls"))]
    if name == "django_application":
        from django.conf import settings
        from django.core.wsgi import get_wsgi_application

        settings.ROOT_URLCONF = "bench.api"
        application = get_wsgi_application()
        globals()["django_application"] = application
        return application
    raise AttributeError(name)


def fastapi_app():
    """(b) FastAPI + asyncpg + orjson, the same JSON from the same tables (uvicorn --factory)."""
    from contextlib import asynccontextmanager

    import asyncpg
    import orjson
    from fastapi import FastAPI
    from fastapi.responses import Response

    sql = """
        SELECT p.id, p.name, p.slug, p.description, p.price, p.currency, c.slug AS category, p.category_id,
               c.name AS category_name, p.image, p.model_asset_id, p.stock_quantity, p.is_active,
               p.created_at, p.updated_at
        FROM catalog_product p JOIN catalog_category c ON c.id = p.category_id
        WHERE p.is_active ORDER BY p.name, p.id LIMIT $1 OFFSET $2"""
    state = {}

    @asynccontextmanager
    async def lifespan(app):
        state["pool"] = await asyncpg.create_pool(os.environ["DATABASE_URL"], min_size=2, max_size=10)
        yield
        await state["pool"].close()

    app = FastAPI(lifespan=lifespan)

    @app.get("/products")
    async def products(page: int = 1, page_size: int = 50):
        async with state["pool"].acquire() as conn:
            total = await conn.fetchval("SELECT count(*) FROM catalog_product WHERE is_active")
            rows = await conn.fetch(sql, page_size, (page - 1) * page_size)
        data = [{
            "id": r["id"], "name": r["name"], "slug": r["slug"], "description": r["description"], "price": str(r["price"]),
            "currency": r["currency"], "category": r["category"], "category_id": r["category_id"],
            "category_name": r["category_name"], "image_url": _image_url(r["image"]),
            "model_url": f"/shop/models/{r['id']}.glb" if r["model_asset_id"] else None,
            "stock_quantity": r["stock_quantity"], "in_stock": r["stock_quantity"] > 0, "is_active": r["is_active"],
            "created_at": r["created_at"].isoformat(), "updated_at": r["updated_at"].isoformat(),
        } for r in rows]
        return Response(orjson.dumps(data), media_type="application/json",
                        headers={"X-Total-Count": str(total), "X-Page": str(page), "X-Page-Size": str(page_size)})

    return app


# --- Load generator ---------------------------------------------------------------------------


async def _request(port: int, path: str) -> tuple[int, bytes]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: application/json\r\nConnection: close\r\n\r\n".encode())
    data = await reader.read(-1)
    writer.close()
    head, _, body = data.partition(b"\r\n\r\n")
    if b"transfer-encoding: chunked" in head.lower():
        body = _dechunk(body)
    return int(head[9:12]), body


def _dechunk(body: bytes) -> bytes:
    out, rest = b"", body
    while rest:
        size_line, _, rest = rest.partition(b"\r\n")
        size = int(size_line.split(b";")[0], 16)
        if size == 0:
            break
        out, rest = out + rest[:size], rest[size + 2:]
    return out


async def _load(port: int, make_path, *, seconds: float, concurrency: int) -> dict:
    latencies: list[float] = []
    errors = 0
    counter = iter(range(10**9))
    deadline = time.perf_counter() + seconds

    async def worker():
        nonlocal errors
        while time.perf_counter() < deadline:
            start = time.perf_counter()
            try:
                status, _ = await _request(port, make_path(next(counter)))
            except OSError:
                status = 0
            if status == 200:
                latencies.append(time.perf_counter() - start)
            else:
                errors += 1

    began = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return {"latencies": latencies, "errors": errors, "elapsed": time.perf_counter() - began}


def _summary(runs: list[dict]) -> dict:
    latencies = sorted(x for run in runs for x in run["latencies"])
    elapsed = sum(run["elapsed"] for run in runs)
    errors = sum(run["errors"] for run in runs)
    if not latencies:
        return {"rps": 0.0, "p50": float("nan"), "p99": float("nan"), "errors": errors, "requests": 0}
    return {
        "rps": len(latencies) / elapsed,
        "p50": statistics.median(latencies) * 1000,
        "p99": latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000,
        "errors": errors,
        "requests": len(latencies),
    }


# --- Orchestration --------------------------------------------------------------------------


def _wait_ready(port: int, path: str, process: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"server on port {port} exited with {process.returncode}")
        with contextlib.suppress(OSError):
            if asyncio.run(_request(port, path))[0] == 200:
                return
        time.sleep(0.3)
    raise SystemExit(f"server on port {port} did not answer {path} within {timeout}s")


def _load_catalog(*, products: int, categories: int) -> None:
    from decimal import Decimal

    from django.core.cache import cache
    from django.db import connection

    from catalog.models import Category, Product

    Product.objects.all().delete()
    Category.objects.all().delete()
    cats = Category.objects.bulk_create(
        Category(name=f"Category {i:02d}", slug=f"category-{i:02d}", position=i) for i in range(categories))
    Product.objects.bulk_create(
        Product(category=cats[i % categories], name=f"Bonsai product {i:04d}", slug=f"bonsai-product-{i:04d}",
                description=f"Demo product {i} for the benchmark: a tree, a pot or a tool.",
                price=Decimal(10 + i % 190) + Decimal("0.99"), currency="usd", stock_quantity=i % 25,
                image=f"catalog/products/{i:032x}.png")
        for i in range(products))
    with connection.cursor() as cursor:  # planner statistics, as a live database has them
        cursor.execute("ANALYZE catalog_product, catalog_category")
    cache.clear()


def _query_counts() -> tuple[int, int]:
    from django.core.cache import cache
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    cache.clear()
    client = Client()
    with CaptureQueriesContext(connection) as uncached:
        assert client.get(LIST_PATH).status_code == 200
    with CaptureQueriesContext(connection) as cached:
        assert client.get(LIST_PATH).status_code == 200
    return len(uncached), len(cached)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=12.0, help="measured seconds per target")
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds of warm-up per target")
    parser.add_argument("--rounds", type=int, default=4, help="interleaved rounds the measured seconds are split into")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--workers", type=int, default=4, help="gunicorn / uvicorn worker processes")
    args = parser.parse_args()
    try:
        import asyncpg  # noqa: F401
        import fastapi  # noqa: F401
        import orjson  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError as error:
        raise SystemExit(f"{error.name} is missing: run  .venv/bin/pip install -r bench/requirements.txt") from None

    from mozukai_hub.testing import services

    with contextlib.ExitStack() as stack:
        database_url = os.environ.get("DATABASE_URL") or stack.enter_context(services.postgres())
        redis_url = os.environ.get("REDIS_URL") or stack.enter_context(services.redis())
        env = {
            **os.environ,
            "DATABASE_URL": database_url, "REDIS_URL": redis_url,
            "DJANGO_SETTINGS_MODULE": "mozukai_hub.settings", "DJANGO_ENV": "production", "DEBUG": "false",
            "SECRET_KEY": "bench-only-secret-key-" + "x" * 40, "ALLOWED_HOSTS": "127.0.0.1,localhost,testserver",
            "SECURE_SSL_REDIRECT": "false", "STRIPE_SECRET_KEY": "sk_test_bench", "STRIPE_WEBHOOK_SECRET": "whsec_bench",
            "SITE_URL": "http://127.0.0.1", "ALLOWED_ORIGINS": "",
            # The benchmark client is one address; the per-client API rate limit would stop it.
            "THROTTLE_USER": "1000000000/min", "PYTHONPATH": str(ROOT),
        }
        os.environ.update(env)
        import django

        django.setup()
        from django.core.management import call_command

        call_command("migrate", verbosity=0)
        _load_catalog(products=1000, categories=20)
        uncached_queries, cached_queries = _query_counts()
        from django.db import connections

        connections.close_all()

        django_port, fastapi_port = free_port(), free_port()
        servers = {
            "gunicorn": subprocess.Popen(
                [sys.executable, "-m", "gunicorn", "bench.api:django_application", "-w", str(args.workers),
                 "-b", f"127.0.0.1:{django_port}", "--log-level", "warning"],
                cwd=ROOT, env=env, stdout=subprocess.DEVNULL, start_new_session=True),
            "uvicorn": subprocess.Popen(
                [sys.executable, "-m", "uvicorn", "--factory", "bench.api:fastapi_app", "--workers", str(args.workers),
                 "--host", "127.0.0.1", "--port", str(fastapi_port), "--no-access-log", "--log-level", "warning"],
                cwd=ROOT, env=env, stdout=subprocess.DEVNULL, start_new_session=True),
        }
        for process in servers.values():
            stack.callback(stop, process)
        _wait_ready(django_port, LIST_PATH, servers["gunicorn"])
        _wait_ready(django_port, PLAIN_PATH, servers["gunicorn"])
        _wait_ready(fastapi_port, FASTAPI_PATH, servers["uvicorn"])

        bodies = {
            "cached": asyncio.run(_request(django_port, LIST_PATH))[1],
            "plain": asyncio.run(_request(django_port, PLAIN_PATH))[1],
            "fastapi": asyncio.run(_request(fastapi_port, FASTAPI_PATH))[1],
        }
        parsed = {name: json.loads(body) for name, body in bodies.items()}
        for name, rows in parsed.items():
            if len(rows) != 50 or set(rows[0]) != set(FIELDS):
                raise SystemExit(f"{name} answered an unexpected page: {len(rows)} rows, fields {sorted(rows[0])}")
        if not parsed["cached"] == parsed["plain"] == parsed["fastapi"]:
            raise SystemExit("the three apps do not answer the same JSON")

        unique = itertools.count(1)
        targets = {
            "cached": (django_port, lambda n: LIST_PATH),
            # A filter value never seen before: the list cache misses, reads PostgreSQL, fills.
            # (every price is above 10, so the rows are the same page).
            "uncached": (django_port, lambda n: f"{LIST_PATH}&min_price=1.{next(unique):09d}"),
            "plain": (django_port, lambda n: PLAIN_PATH),
            "fastapi": (fastapi_port, lambda n: FASTAPI_PATH),
        }
        try:
            import uvloop

            runner = uvloop.run
        except ImportError:
            runner = asyncio.run
        for port, make_path in targets.values():
            runner(_load(port, make_path, seconds=args.warmup, concurrency=args.concurrency))
        # Interleaved rounds: a burst of load from elsewhere on a shared machine hits all four.
        runs: dict[str, list[dict]] = {name: [] for name in targets}
        for _ in range(args.rounds):
            for name, (port, make_path) in targets.items():
                runs[name].append(runner(_load(port, make_path, seconds=args.seconds / args.rounds,
                                               concurrency=args.concurrency)))
        results = {name: _summary(name_runs) for name, name_runs in runs.items()}

    print(f"\nProduct list, page of 50 of 1,000 products in 20 categories; {args.workers} workers each, "
          f"{args.concurrency} concurrent clients, {args.seconds:.0f}s per target in {args.rounds} interleaved rounds, "
          f"new connection per request.\n")
    print(f"{'target':<10}{'req/s':>10}{'p50 ms':>10}{'p99 ms':>10}{'errors':>8}{'requests':>10}")
    for name, r in results.items():
        print(f"{name:<10}{r['rps']:>10.0f}{r['p50']:>10.2f}{r['p99']:>10.2f}{r['errors']:>8}{r['requests']:>10}")
    fast = results["fastapi"]["rps"] or float("nan")
    checks = [
        ("cached / fastapi", results["cached"]["rps"] / fast, 1.0),
        ("uncached / fastapi", results["uncached"]["rps"] / fast, 0.35),
        ("uncached / plain Django", results["uncached"]["rps"] / (results["plain"]["rps"] or float("nan")), 0.6),
    ]
    print()
    ok = True
    for label, ratio, target in checks:
        passed = ratio >= target
        ok &= passed
        print(f"{label:<26}{ratio:>6.2f}×   target ≥ {target:.2f}×   {'ok' if passed else 'MISSED'}")
    queries_ok = uncached_queries <= 3 and cached_queries <= 3
    ok &= queries_ok and not any(r["errors"] for r in results.values())
    print(f"{'queries per list request':<26}{uncached_queries:>6} uncached, {cached_queries} cached   target ≤ 3   "
          f"{'ok' if queries_ok else 'MISSED'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
