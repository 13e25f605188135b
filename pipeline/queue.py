"""Enqueueing job runs on django-q2 with one broker object shared by every enqueue."""

import functools

from django_q.brokers import Broker, get_broker
from django_q.tasks import async_task


@functools.cache
def shared_broker() -> Broker:
    return get_broker()


def enqueue_job_run(job_id) -> str:
    """Call only after commit (`transaction.on_commit`): the worker must see the row."""
    return async_task("pipeline.tasks.job_run", str(job_id), task_name=f"job:{job_id}", broker=shared_broker())
