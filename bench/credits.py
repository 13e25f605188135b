"""Credit ledger throughput on PostgreSQL, against a bare conditional UPDATE.

    .venv/bin/python bench/credits.py [--seconds 3] [--rounds 3] [--workers 8]

Uses DATABASE_URL when set; otherwise starts a throwaway PostgreSQL
(`mozukai_hub.testing.services.postgres()`), migrates it and removes it afterwards.

Measures, with N worker processes (each its own connection; processes so the GIL is not
what is measured), for W seconds each, in R rounds (each ratio is taken against the baselines of
its own round, and the median round is printed with the lowest and highest):

* baseline: `UPDATE bench_balance SET balance = balance - 1 WHERE id = %s AND balance >= 1`
  (no ledger, no idempotency: the floor any design pays), twice: through the same
  prepared-statement path the ledger uses (`mozukai_hub.db.fetchone_prepared`: the strictest
  floor) and through Django's default cursor (`connection.cursor()`, parsed and planned per call), as
  plain Django code would run it;
* consume: `billing.services.credits_consume(user=…, amount=1)`;
* hold→settle: `credits_hold(…, amount=1, reference=…)` then `credits_settle(reference=…)`.
  Printed two ways: cycles/s, and ledger operations/s (a hold and a settle are each one
  transaction, as one bare UPDATE is); the ratio is per operation, the cycle figure is half.

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
    if kind == "baseline":
        while time.perf_counter() < deadline:
            fetchone_prepared(BARE_UPDATE, [target])
            done += 1  # the balance is far above what a run spends: every update applies
    elif kind == "baseline_django":
        from django.db import connection

        with connection.cursor() as cursor:
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
    return f"{statistics.median(ratios):5.2f} ({min(ratios):.2f}–{max(ratios):.2f})"


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
    from django.db import connection
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
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM bench_balance WHERE balance < 0")
        if cursor.fetchone()[0]:
            problems.append("baseline table went negative")
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
    rows = []
    for label, base_targets, targets in (("one account per worker", list(range(workers)), spread),
                                         ("all workers on one account", [workers] * workers, hot)):
        # Rounds of all four runs back to back, each ratio against its own round's baselines:
        # on a shared machine the speed drifts between minutes, and a ratio of two runs taken
        # seconds apart drifts far less than either run. The median round is reported.
        measured = {"baseline": [], "baseline_django": [], "consume": [], "hold_settle": []}
        for _ in range(rounds):
            for kind in measured:
                measured[kind].append(_run(kind, base_targets if kind.startswith("baseline") else targets, seconds))
        rows.append((label, measured))
    drained = _users(1, "drain", balance=DRAIN_BALANCE)[0]
    _run("drain", [drained] * workers, seconds)
    for baseline, title in (("baseline", "against the bare UPDATE through the ledger's prepared statements "
                                         "(the strictest floor)"),
                            ("baseline_django", "against the bare UPDATE through Django's default cursor "
                                                "(parsed and planned on every call)")):
        print(f"{title}; median of {rounds} rounds (lowest–highest ratio):")
        print(f"{'':28} {'bare UPDATE':>11} {'consume':>9} {'ratio':>16} {'hold→settle':>12} {'= ledger ops':>12}"
              f" {'ratio':>16} {'per cycle':>9}")
        for label, measured in rows:
            consume = [c / b for c, b in zip(measured["consume"], measured[baseline])]
            per_op = [2 * h / b for h, b in zip(measured["hold_settle"], measured[baseline])]
            cycles = statistics.median(measured["hold_settle"])
            print(f"{label:28} {statistics.median(measured[baseline]):9.0f}/s "
                  f"{statistics.median(measured['consume']):7.0f}/s {_ratio(consume)} {cycles:8.0f} cyc/s"
                  f" {2 * cycles:10.0f}/s {_ratio(per_op)} {statistics.median(per_op) / 2:9.2f}")
    print("target: ratio >= 0.5 (hold→settle per ledger operation: a hold and a settle are each one transaction, "
          "as one bare UPDATE is)")
    problems = _anomalies(drained)
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
    parser.add_argument("--rounds", type=int, default=3)
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
