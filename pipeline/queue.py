"""Enqueueing job runs on django-q2 with one broker object shared by every enqueue."""

import functools

from django_q.brokers import Broker, get_broker
from django_q.tasks import async_task


@functools.cache
def shared_broker() -> Broker:
    return get_broker()


def enqueue_job_run(job_id, *, timeout_seconds: int) -> str:
    """Call only after commit (`transaction.on_commit`): the worker must see the row.

    `timeout_seconds` (the kind's time limit plus a grace period, `engines.job_task_timeout`)
    replaces the cluster's global task timeout for this run, so a long kind is not killed early.
    """
    return async_task("pipeline.tasks.job_run", str(job_id), task_name=f"job:{job_id}", timeout=timeout_seconds,
                      broker=shared_broker())
