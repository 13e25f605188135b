"""A stuck test tells where it is stuck: after WATCHDOG_SECONDS of one test, print PostgreSQL's
sessions (state, what each waits for, which sessions block it, its statement) to the terminal.

pytest's `faulthandler_timeout` (pytest.ini) prints the Python threads' stacks; this adds the
database's side, where a test waiting on a lock held by a forgotten session would hang. It only
reports: the test goes on (CI's own time limit still ends a run that never finishes).
"""

import os
import threading
import time

import pytest

WATCHDOG_SECONDS = float(os.environ.get("TEST_WATCHDOG_SECONDS", "300"))

SESSIONS_SQL = """
    SELECT pid, datname, state, wait_event_type, wait_event, pg_blocking_pids(pid),
           now() - xact_start, left(regexp_replace(query, '\\s+', ' ', 'g'), 300)
    FROM pg_stat_activity WHERE backend_type = 'client backend' AND pid <> pg_backend_pid() ORDER BY pid
"""

_current = {"nodeid": None, "started": 0.0, "reported": None}


def _report(out, nodeid: str, seconds: float) -> None:
    import psycopg

    lines = [f"\n[watchdog] {nodeid} has run {seconds:.0f} s; PostgreSQL sessions:"]
    try:
        with psycopg.connect(os.environ["DATABASE_URL"], autocommit=True, connect_timeout=10) as db:
            for row in db.execute(SESSIONS_SQL):
                pid, name, state, wait_type, wait, blockers, in_transaction, query = row
                lines.append(f"  pid {pid} db {name} {state} waiting {wait_type}/{wait} blocked by {blockers} "
                             f"transaction {in_transaction}: {query}")
    except Exception as exc:  # a report, never a failure of its own
        lines.append(f"  (could not read pg_stat_activity: {exc!r})")
    out.write("\n".join(lines) + "\n")
    out.flush()


def _watch(out) -> None:
    while True:
        time.sleep(15)
        nodeid, started = _current["nodeid"], _current["started"]
        if nodeid and _current["reported"] != nodeid and time.monotonic() - started > WATCHDOG_SECONDS:
            _current["reported"] = nodeid
            _report(out, nodeid, time.monotonic() - started)


def pytest_configure(config):
    if not os.environ.get("DATABASE_URL", "").startswith("postgres"):
        return
    # The terminal itself: during a test, pytest captures file descriptor 2.
    out = os.fdopen(os.dup(2), "w", buffering=1)
    threading.Thread(target=_watch, args=(out,), name="test-watchdog", daemon=True).start()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item, nextitem):
    _current["started"] = time.monotonic()  # before the id: the thread never pairs a new id with an old start
    _current["nodeid"] = item.nodeid
    yield
    _current["nodeid"] = None
