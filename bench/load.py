"""Load benchmark: the production topology (README "Production") under a mixed load, on loopback.

    .venv/bin/python bench/load.py [--step-seconds 10] [--max-rate 800] [--soak 300]

Starts the stack of `mozukai_hub/testing/production.py` (nginx → gunicorn ×2 workers and daphne,
two qcluster workers, PostgreSQL, Redis, S3 on moto, the fake Stripe) and drives it through
nginx only, open loop (requests start on a schedule, not when the previous one ends):

  page      anonymous browsing: the front page, the product list page, a product page
  api_read  anonymous API reads: products (a page of 50), one product, categories, credits
  order     a signed-in customer places an order and asks for its PaymentIntent (two requests)
  spend     a signed-in customer spends a credit (POST /credits/consume)
  job       a signed-in customer starts a SCAD render and follows it on the websocket to the end

The rate goes up in steps (25, 50, 75, 100, 125, 150, 200, …) of --step-seconds each while every
request succeeds and the p99 of page and api_read stays under 500 ms; the highest step that holds
is the machine's rate. Then a soak at 70 % of that rate for --soak seconds (default 300) samples
the resident memory of each process group every 10 s: growth over the second half of the soak
must level off. Bounded: at most --max-rate requests per second, the ramp stops at the first
step that fails, every process is stopped at the end. Needs PostgreSQL: when DATABASE_URL is
unset it re-runs itself under `mozukai_hub.testing.services`. Exits 1 on any error or when the
memory does not level off.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

MIX = [("page", 0.30), ("api_read", 0.50), ("order", 0.08), ("spend", 0.10), ("job", 0.02)]
RATES = [25, 50, 75, 100, 125, 150, 200, 250, 300, 400, 500, 600, 800]
P99_TARGET_MS = 500
USERS = 8
PASSWORD = "Moss-and-Granite-42"


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))] if ordered else float("nan")


def group_rss_mb(pgid: int) -> float:
    """Resident memory of every process in a process group (the cluster's forks included)."""
    page = os.sysconf("SC_PAGE_SIZE")
    total = 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
            fields = stat[stat.rindex(")") + 2:].split()
            if int(fields[2]) == pgid:  # field 5 of stat: the process group
                total += int(Path(f"/proc/{entry}/statm").read_text().split()[1]) * page
        except (OSError, ValueError, IndexError):
            continue
    return total / 1024 / 1024


class Load:
    def __init__(self, stack, users: list[dict], products: list[dict]):
        import httpx

        self.stack = stack
        self.users = users
        self.products = products
        limits = httpx.Limits(max_connections=400, max_keepalive_connections=100)
        self.http = httpx.AsyncClient(base_url=stack.url, limits=limits, timeout=30)
        self.latencies: dict[str, list[float]] = defaultdict(list)
        self.errors: dict[str, int] = defaultdict(int)
        self.error_samples: list[str] = []
        self.job_seconds: list[float] = []

    def reset(self):
        self.latencies.clear()
        self.errors.clear()

    async def timed(self, kind: str, method: str, url: str, expect: int = 200, **kwargs):
        started = time.perf_counter()
        try:
            response = await self.http.request(method, url, **kwargs)
            ok = response.status_code == expect
        except Exception as exc:  # a refused or dropped connection counts as an error
            response, ok = None, False
            detail = repr(exc)
        else:
            detail = f"{response.status_code} {response.text[:200]}"
        self.latencies[kind].append((time.perf_counter() - started) * 1000)
        if not ok:
            self.errors[kind] += 1
            if len(self.error_samples) < 10:
                self.error_samples.append(f"{kind} {method} {url}: {detail}")
        return response

    async def page(self):
        product = random.choice(self.products)
        url = random.choice(["/", "/shop/products/", f"/shop/p/{product['slug']}/"])
        await self.timed("page", "GET", url)

    async def api_read(self):
        product = random.choice(self.products)
        url = random.choice(["/api/v1/products", f"/api/v1/products/{product['id']}", "/api/v1/categories",
                             "/api/v1/credits"])
        await self.timed("api_read", "GET", url)

    async def order(self):
        user = random.choice(self.users)
        product = random.choice(self.products)
        placed = await self.timed("order", "POST", "/api/v1/orders", expect=201, headers=user["auth"],
                                  json={"items": [{"product_id": product["id"], "quantity": 1}]})
        if placed is not None and placed.status_code == 201:
            await self.timed("order", "POST", "/api/v1/payments/create-intent", headers=user["auth"],
                             json={"order_id": placed.json()["id"]})

    async def spend(self):
        user = random.choice(self.users)
        await self.timed("spend", "POST", "/api/v1/credits/consume", headers=user["auth"],
                         json={"amount": 1, "reason": "load"})

    async def job(self):
        import websockets

        user = random.choice(self.users)
        started = time.perf_counter()
        created = await self.timed("job", "POST", "/api/v1/jobs", expect=201, headers=user["auth"],
                                   json={"kind": "scad_render", "params": {"scad": f"cube({random.randint(1, 9)});"}})
        if created is None or created.status_code != 201:
            return
        url = f"{self.stack.ws_url}/api/v1/jobs-socket/{created.json()['id']}?token={user['token']}&after=0"
        try:
            async with websockets.connect(url, open_timeout=30) as ws:
                while True:
                    message = json.loads(await asyncio.wait_for(ws.recv(), timeout=120))
                    if message["type"] == "status" and message["data"]["status"] in {"completed", "failed", "cancelled"}:
                        if message["data"]["status"] != "completed":
                            raise RuntimeError(f"job ended {message['data']['status']}")
                        break
            self.job_seconds.append(time.perf_counter() - started)
        except Exception as exc:
            self.errors["job"] += 1
            if len(self.error_samples) < 10:
                self.error_samples.append(f"job socket: {exc!r}")

    async def run(self, rate: float, seconds: float) -> tuple[int, float]:
        """Start `rate` operations per second for `seconds` (open loop); wait for them to end."""
        kinds = [k for k, _ in MIX]
        weights = [w for _, w in MIX]
        tasks = []
        started = time.perf_counter()
        n = 0
        while (elapsed := time.perf_counter() - started) < seconds:
            due = int(elapsed * rate) + 1
            while n < due:
                kind = random.choices(kinds, weights)[0]
                tasks.append(asyncio.create_task(getattr(self, kind)()))
                n += 1
            await asyncio.sleep(0.005)
        await asyncio.gather(*tasks)
        return n, time.perf_counter() - started


def prepare(stack) -> tuple[list[dict], list[dict]]:
    """Bench customers (credits granted from the shell) and 20 products created by staff."""
    import httpx

    from mozukai_hub.testing.production import STAFF_EMAIL, STAFF_PASSWORD

    users = []
    with httpx.Client(base_url=stack.url, timeout=30) as http:
        for n in range(USERS):
            email = f"load{n}@example.com"
            assert http.post("/api/v1/auth/register", json={"email": email, "password": PASSWORD,
                                                            "display_name": f"load{n}"}).status_code == 201
            token = http.post("/api/v1/auth/login", json={"email": email, "password": PASSWORD}).json()["access_token"]
            users.append({"email": email, "token": token, "auth": {"Authorization": f"Bearer {token}"}})
        staff = http.post("/api/v1/auth/login", json={"email": STAFF_EMAIL, "password": STAFF_PASSWORD}).json()
        products = []
        for n in range(20):
            created = http.post("/api/v1/products", headers={"Authorization": f"Bearer {staff['access_token']}"}, json={
                "name": f"Load bonsai {n}", "description": "A tree under load.", "price": 20 + n,
                "category": "Outdoor Bonsai", "stock_quantity": 1_000_000, "is_active": True})
            assert created.status_code == 201, created.text
            products.append(created.json())
    emails = [u["email"] for u in users]
    granted = stack.manage("shell", "-c", (
        "from accounts.models import User; from billing.services import credits_grant\n"
        f"for u in User.objects.filter(email__in={emails!r}):\n"
        "    credits_grant(user=u, amount=1_000_000, reason='load bench', idempotency_key=f'load-{u.pk}')"))
    assert granted.returncode == 0, granted.stderr
    return users, products


def summary(load: Load, n: int, elapsed: float) -> dict:
    row = {"rate": n / elapsed, "errors": sum(load.errors.values())}
    for kind, _ in MIX:
        values = load.latencies.get(kind, [])
        row[kind] = (pct(values, 0.5), pct(values, 0.99), len(values))
    return row


def print_row(target, row):
    parts = [f"{target:>5}/s  achieved {row['rate']:7.1f}/s  errors {row['errors']:3d}"]
    for kind, _ in MIX:
        p50, p99, count = row[kind]
        parts.append(f"{kind} p50 {p50:6.1f} p99 {p99:7.1f} ms (n={count})")
    print("  ".join(parts), flush=True)


async def main_async(args, stack) -> int:
    users, products = prepare(stack)
    load = Load(stack, users, products)
    failed = False
    try:
        await load.run(10, 3)  # warm-up: every process has served each kind once
        load.reset()
        print(f"Ramp: steps of {args.step_seconds:g} s; holds while errors = 0 and page/api_read p99 < {P99_TARGET_MS} ms")
        held = None
        for target in [r for r in RATES if r <= args.max_rate]:
            load.reset()
            n, elapsed = await load.run(target, args.step_seconds)
            row = summary(load, n, elapsed)
            print_row(target, row)
            holds = (row["errors"] == 0 and row["page"][1] < P99_TARGET_MS and row["api_read"][1] < P99_TARGET_MS
                     and row["rate"] >= 0.9 * target)
            if not holds:
                break
            held = (target, row)
        if held is None:
            print("No step held.")
            print("\n".join(load.error_samples))
            return 1
        target, row = held
        print(f"\nHighest rate held: {target}/s (achieved {row['rate']:.1f}/s), page p50/p99 {row['page'][0]:.1f}/"
              f"{row['page'][1]:.1f} ms, api_read {row['api_read'][0]:.1f}/{row['api_read'][1]:.1f} ms, "
              f"order {row['order'][0]:.1f}/{row['order'][1]:.1f} ms, spend {row['spend'][0]:.1f}/{row['spend'][1]:.1f} ms; "
              f"jobs end to end p50 {pct(load.job_seconds, 0.5):.2f} s")

        soak_rate = max(10, int(target * 0.7))
        print(f"\nSoak: {soak_rate}/s for {args.soak:g} s; resident memory (MB) of each process group every 10 s")
        names = [name for name in stack.processes if name not in {"s3", "redis"}] + ["redis"]
        samples = {name: [] for name in names}
        load.reset()
        total_n, started = 0, time.perf_counter()
        while time.perf_counter() - started < args.soak:
            n, _ = await load.run(soak_rate, min(10, args.soak - (time.perf_counter() - started)))
            total_n += n
            for name in names:
                samples[name].append(group_rss_mb(stack.processes[name].pid))
        row = summary(load, total_n, time.perf_counter() - started)
        print_row(soak_rate, row)
        failed = row["errors"] > 0
        print(f"{'process':<10} {'start':>8} {'middle':>8} {'end':>8}  growth 1st half  growth 2nd half")
        for name, values in samples.items():
            half = len(values) // 2
            first, second = values[half] - values[0], values[-1] - values[half]
            levels_off = second <= max(5.0, 0.5 * first) or second <= 0.02 * values[half]
            print(f"{name:<10} {values[0]:8.1f} {values[half]:8.1f} {values[-1]:8.1f}  {first:+13.1f}  {second:+13.1f}"
                  f"  {'levels off' if levels_off else 'STILL GROWING'}")
            failed = failed or not levels_off
        if load.error_samples:
            print("Errors:\n" + "\n".join(load.error_samples))
    finally:
        await load.http.aclose()
    return 1 if failed else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--step-seconds", type=float, default=10)
    parser.add_argument("--max-rate", type=int, default=800)
    parser.add_argument("--soak", type=float, default=300)
    args = parser.parse_args()
    if not os.environ.get("DATABASE_URL", "").startswith("postgres"):
        return subprocess.call([sys.executable, "-m", "mozukai_hub.testing.services", "--", sys.executable, *sys.argv],
                               cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mozukai_hub.settings")
    import django

    django.setup()
    from mozukai_hub.testing.production import production_stack

    started = time.monotonic()
    with production_stack(extra_env={
        # The bench measures the stack, not its per-client limits: one address sends everything.
        "THROTTLE_USER": "1000000/min", "THROTTLE_AUTH": "1000000/min",
        "PIPELINE_MAX_JOBS_PER_MINUTE": "0", "PIPELINE_MAX_JOBS_IN_FLIGHT": "0",
        "PIPELINE_MAX_DISPATCHED_PER_OWNER": "1000", "GUNICORN_WORKERS": "2",
    }) as stack:
        print(f"Stack up in {time.monotonic() - started:.1f} s: {stack.url}", flush=True)
        code = asyncio.run(main_async(args, stack))
    return code


if __name__ == "__main__":
    sys.exit(main())
