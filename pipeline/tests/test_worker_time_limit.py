"""A kind whose time limit exceeds the cluster's task timeout and the lease runs to the end in a
real django-q2 worker: never killed at the global timeout and retried as "worker lost"."""

import pytest

from pipeline.models import Job

from .test_worker import LEASE, status, wait_for, worker  # noqa: F401  (the worker fixture)

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]
GLOBAL_TASK_TIMEOUT = 3


def test_a_long_kind_outlives_the_global_task_timeout_and_the_lease(worker, auth_client, funded_user):  # noqa: F811
    worker.env["Q_TIMEOUT"] = str(GLOBAL_TASK_TIMEOUT)
    worker.start()
    # long_test declares 30 s; this run takes about 8 s of checkpoints, then renders.
    assert 8 > GLOBAL_TASK_TIMEOUT + 3 and 8 > LEASE
    job_id = auth_client.post(
        "/api/v1/jobs", {"kind": "scad_render", "engine": "long_test", "params": {"scad": "cube(5);", "prompt": "32"}},
        format="json",
    ).json()["id"]
    wait_for(lambda: status(job_id) in {"completed", "failed"}, timeout=40, reap=True)
    job = Job.objects.get(pk=job_id)
    assert job.status == "completed" and job.attempts == 1, (job.error_type, job.error)
