"""The django-q2 cluster on the ORM broker with PostgreSQL (no Redis): its forked workers must
not inherit the web process's connection pool."""

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from django.db import connection

ROOT = Path(__file__).resolve().parents[2]
ENQUEUE_AND_WAIT = """
import time
from django_q.tasks import async_task, result
ids = [async_task("math.floor", n + 0.5) for n in range(5)]
# Tasks that use the database inside transactions, as every real task does.
ids += [async_task("accounts.tokens.revoked_tokens_purge") for _ in range(30)]
deadline = time.monotonic() + 40
while time.monotonic() < deadline and any(result(i) is None for i in ids):
    time.sleep(0.1)
print("results", [result(i) for i in ids])
"""


@pytest.mark.django_db(transaction=True)
def test_orm_broker_tasks_run_in_a_real_cluster_on_postgresql(tmp_path):
    assert connection.vendor == "postgresql"
    db = connection.settings_dict
    env = {k: v for k, v in os.environ.items() if k != "REDIS_URL"}
    env.update(DATABASE_URL=f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}", Q_WORKERS="2", LOG_LEVEL="WARNING")
    log = tmp_path / "qcluster.log"
    with log.open("w") as log_file:
        cluster = subprocess.Popen([sys.executable, "manage.py", "qcluster"], cwd=ROOT, env=env, start_new_session=True,
                                   stdout=log_file, stderr=subprocess.STDOUT)
        try:
            enqueued = subprocess.run([sys.executable, "manage.py", "shell", "-c", ENQUEUE_AND_WAIT], cwd=ROOT, env=env,
                                      capture_output=True, text=True, timeout=90)
        finally:
            os.killpg(cluster.pid, signal.SIGKILL)
            cluster.wait(timeout=30)
    errors = log.read_text()
    assert "results [0, 1, 2, 3, 4" + ", 0" * 30 + "]" in enqueued.stdout, enqueued.stdout + enqueued.stderr
    assert "SAVEPOINT" not in errors and "Traceback" not in errors, errors
