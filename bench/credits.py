"""Credit ledger throughput on PostgreSQL, against a bare conditional UPDATE.

    .venv/bin/python bench/credits.py [--seconds 3] [--rounds 3] [--workers 8]

Uses DATABASE_URL when set; otherwise starts a throwaway PostgreSQL
(`mozukai_hub.testing.services.postgres()`), migrates it and removes it afterwards.

Measures, with N worker processes (each its own connection; processes so the GIL is not
what is measured), for W seconds each, in R rounds (the baseline rows refilled before each;
each ratio is taken against the baselines of its own round; the median of each figure is
printed, with the lowest and highest ratio):

* baseline: `UPDATE bench_balance SET balance = balance - 1 WHERE id = %s AND balance >= 1`
  (no ledger, no idempotency: the floor any design pays), three ways: through Django's default
  cursor (`connection.cursor()`, parsed and planned per call), as plain Django code runs it;
  through the same path as the ledger's statements (`mozukai_hub.db.fetchone_prepared`:
  prepared once per connection, Django's cursor wrapper per call); and on one reused psycopg
  prepared cursor with no Django code per call (the strictest floor);
* consume: `billing.services.credits_consume(user=…, amount=1)`;
* hold→settle: `credits_hold(…, amount=1, reference=…)` then `credits_settle(reference=…)`.
  Printed per ledger operation (a hold and a settle are each one transaction, as one bare
  UPDATE is) and per cycle (half that).

once with one account per worker (independent users) and once with every worker on the
same account (one hot row). Then a drain: every worker consumes from one account holding
`DRAIN_BALANCE` credits until it is refused. Then checks for anomalies: every account's
balance equals its ledger sum, no balance below zero, the drained account at exactly 0 after
exactly `DRAIN_BALANCE` successful consumes, exactly as many entries as operations reported,
no hold left open. Exit status 1 on any anomaly.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mozukai_hub.settings")
os.environ.setdefault("DEBUG", "false")

START_BALANCE = 1_000_000
DRAIN_BALANCE = 2_000
BARE_UPDATE = "UPDATE bench_balance SET balance = balance - 1 WHERE id = %s AND balance >= 1"
# The bare UPDATE, three ways (see the module docstring).
BASELINES = {"baseline_django": "Django's cursor", "baseline_path": "same path as the ledger", "baseline_raw": "raw prepared cursor"}
RUNS = [*BASELINES, "consume", "hold_settle"]


def _setup_django() -> None:
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)


def _release_connections() -> None:
    from django.db import connections

    for conn in connections.all():
        conn.close()
        if hasattr(conn, "close_pool"):
            conn.close_pool()


def _worker(kind: str, target, seconds: float, worker_no: int, results) -> None:
    from billing import services
    from billing.services.ledger import InsufficientCredits
    from mozukai_hub.db import fetchone_prepared
    from mozukai_hub.ids import uuid7

    done = 0
    deadline = time.perf_counter() + seconds
    if kind == "baseline_path":
        while time.perf_counter() < deadline:
            fetchone_prepared(BARE_UPDATE, [target])
            done += 1  # every update applies: the rows are refilled each round and checked after it
    elif kind == "baseline_django":
        from django.db import connection

        with connection.cursor() as cursor:
            while time.perf_counter() < deadline:
                cursor.execute(BARE_UPDATE, [target])
                done += cursor.rowcount
    elif kind == "baseline_raw":
        from django.db import connection

        from mozukai_hub.db import PreparedCursor

        connection.ensure_connection()
        with PreparedCursor(connection.connection) as cursor:  # psycopg's own, no Django wrapper
            cursor.execute("SET plan_cache_mode = force_generic_plan")
            while time.perf_counter() < deadline:
                cursor.execute(BARE_UPDATE, [target])
                done += cursor.rowcount
    elif kind == "consume":
        while time.perf_counter() < deadline:
            services.credits_consume(user=target, amount=1, reason="bench")
            done += 1
    elif kind == "drain":
        while True:
            try:
                services.credits_consume(user=target, amount=1, reason="bench drain")
            except InsufficientCredits:
                break
            done += 1
    else:
        while time.perf_counter() < deadline:
            reference = f"job:{uuid7()}"  # as a job holds: its time-ordered id
            services.credits_hold(user=target, amount=1, reference=reference)
            services.credits_settle(reference=reference)
            done += 1
    _release_connections()
    results.put((worker_no, done))


def _run(kind: str, targets: list, seconds: float) -> float:
    _release_connections()  # a forked child must not share the parent's sockets
    ctx = multiprocessing.get_context("fork")
    results = ctx.Queue()
    procs = [ctx.Process(target=_worker, args=(kind, target, seconds, i, results)) for i, target in enumerate(targets)]
    started = time.perf_counter()
    for proc in procs:
        proc.start()
    counts = [results.get(timeout=seconds + 120)[1] for _ in procs]
    for proc in procs:
        proc.join()
        if proc.exitcode != 0:
            raise SystemExit(f"a {kind} worker failed (exit {proc.exitcode})")
    elapsed = time.perf_counter() - started
    _run.ops[kind] = _run.ops.get(kind, 0) + sum(counts)
    return sum(counts) / elapsed


_run.ops = {}


def _ratio(ratios: list[float]) -> str:
    return f"{statistics.median(ratios):5.2f} ({min(ratios):.2f}–{max(ratios):.2f})".rjust(17)


def _users(n: int, label: str, balance: int = START_BALANCE) -> list:
    from accounts.models import User
    from billing import services

    users = []
    for i in range(n):
        user = User.objects.create(email=f"bench-{label}-{i}-{time.time_ns()}@example.com", username=f"b{label[:3]}{i}{time.time_ns() % 10**9}")
        services.credits_grant(user=user, amount=balance, reason="bench", idempotency_key=f"bench:{user.pk}")
        users.append(user)
    return users


def _anomalies(drained) -> list[str]:
    from django.db.models import F, Sum, Value
    from django.db.models.functions import Coalesce

    from billing.models import CreditAccount, CreditEntry, EntryKind

    problems = []
    drift = CreditAccount.objects.annotate(ledger=Coalesce(Sum("entries__amount"), Value(0))).exclude(balance=F("ledger"))
    problems += [f"account {a.pk}: balance {a.balance} != ledger {a.ledger}" for a in drift]
    problems += [f"account {a.pk}: negative balance {a.balance}" for a in CreditAccount.objects.filter(balance__lt=0)]
    consumes = CreditEntry.objects.filter(kind=EntryKind.CONSUME).count()
    reported = _run.ops.get("consume", 0) + _run.ops.get("drain", 0)
    if consumes != reported:
        problems.append(f"{consumes} consume entries for {reported} consumes reported")
    drained_balance = CreditAccount.objects.get(user=drained).balance
    if drained_balance != 0 or _run.ops.get("drain") != DRAIN_BALANCE:
        problems.append(f"drain: {_run.ops.get('drain')} consumes succeeded on {DRAIN_BALANCE} credits, "
                        f"balance left {drained_balance} (expected {DRAIN_BALANCE} and 0)")
    holds = CreditEntry.objects.filter(kind=EntryKind.HOLD).count()
    settles = CreditEntry.objects.filter(kind=EntryKind.SETTLE).count()
    if not holds == settles == _run.ops.get("hold_settle", 0):
        problems.append(f"{holds} holds / {settles} settles for {_run.ops.get('hold_settle', 0)} reported")
    return problems


def bench(seconds: float, workers: int, rounds: int) -> int:
    _setup_django()
    from django.db import connection

    if connection.vendor != "postgresql":
        raise SystemExit("This benchmark needs PostgreSQL (set DATABASE_URL or leave it unset for a throwaway one).")
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS bench_balance")
        cursor.execute("CREATE TABLE bench_balance (id integer PRIMARY KEY, balance integer NOT NULL)")
        cursor.execute("INSERT INTO bench_balance SELECT g, %s FROM generate_series(0, %s) g", [START_BALANCE, workers])
    spread, hot = _users(workers, "spread"), _users(1, "hot") * workers

    print(f"PostgreSQL {connection.pg_version // 10000}, {workers} worker processes, {seconds:g}s per run, "
          f"{rounds} rounds, {os.cpu_count()} CPUs")
    problems = []
    rows = []
    for label, base_targets, targets in (("one account per worker", list(range(workers)), spread),
                                         ("all workers on one account", [workers] * workers, hot)):
        # Rounds of every run back to back, each ratio against the baselines of its own round:
        # on a shared machine the speed drifts from minute to minute, far less within a round.
        # Odd rounds run in reverse order, so a drift within rounds (tables and indexes growing,
        # checkpoints) does not always favour the same side.
        measured = {kind: [] for kind in RUNS}
        for round_no in range(rounds):
            with connection.cursor() as cursor:
                cursor.execute("UPDATE bench_balance SET balance = %s", [START_BALANCE])
            for kind in (RUNS if round_no % 2 == 0 else RUNS[::-1]):
                measured[kind].append(_run(kind, base_targets if kind.startswith("baseline") else targets, seconds))
            with connection.cursor() as cursor:
                cursor.execute("SELECT min(balance) FROM bench_balance")
                if cursor.fetchone()[0] <= 0:
                    problems.append(f"{label}, round {round_no + 1}: a baseline row ran dry (its figure counts "
                                    "updates that changed nothing); use fewer seconds")
        rows.append((label, measured))
    drained = _users(1, "drain", balance=DRAIN_BALANCE)[0]
    _run("drain", [drained] * workers, seconds)

    print(f"median of {rounds} rounds; each ratio (median, lowest–highest) is against the bare UPDATE of its round:")
    print(f"{'':38} {'ops/s':>7}   {'vs Django cursor':>17}  {'vs same path':>17}  {'vs raw cursor':>17}")
    for label, measured in rows:
        print(label)
        for kind in BASELINES:
            print(f"  bare UPDATE, {BASELINES[kind]:24} {statistics.median(measured[kind]):7.0f}")
        per_op = [2 * cycles for cycles in measured["hold_settle"]]  # a hold and a settle: two transactions
        for name, figures in (("consume", measured["consume"]), ("hold→settle, per ledger operation", per_op),
                              ("hold→settle, per cycle", measured["hold_settle"])):
            ratios = "  ".join(_ratio([f / b for f, b in zip(figures, measured[kind])]) for kind in BASELINES)
            print(f"  {name:36} {statistics.median(figures):7.0f}   {ratios}")
    print("target: ratio >= 0.5. Per ledger operation is like for like: a hold and a settle are each one transaction, "
          "as one bare UPDATE is.")
    problems += _anomalies(drained)
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE bench_balance")
    total = _run.ops.get("consume", 0) + _run.ops.get("drain", 0) + 2 * _run.ops.get("hold_settle", 0)
    if problems:
        print("ANOMALIES:", *problems, sep="\n  ")
        return 1
    print(f"anomalies: 0 ({total} ledger operations checked: balances == ledger sums, none negative, every hold settled, "
          f"{workers} workers drained {DRAIN_BALANCE} credits to exactly 0)")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--rounds", type=lambda v: max(1, int(v)), default=3, help="at least 1")
    parser.add_argument("--workers", type=int, default=8)
    parser.add_argument(
        "--fast-unsafe", action="store_true",
        help="run the throwaway PostgreSQL with fsync/synchronous_commit off (as the test suite does); "
             "the default measures with a production server's durable commits",
    )
    args = parser.parse_args()
    if os.environ.get("DATABASE_URL"):
        return bench(args.seconds, args.workers, args.rounds)
    from mozukai_hub.testing.services import postgres

    durable = not args.fast_unsafe
    print(f"PostgreSQL commits: {'durable (fsync on, as in production)' if durable else 'fsync off (unsafe, test-suite settings)'}")
    with postgres(durable=durable) as url:
        os.environ["DATABASE_URL"] = url
        return bench(args.seconds, args.workers, args.rounds)


if __name__ == "__main__":
    sys.exit(main())
