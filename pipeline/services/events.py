"""Appending to a job's ordered event log and waking websocket consumers after commit."""

import logging

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction
from django.db.models import F

from ..models import Job, JobEvent

logger = logging.getLogger(__name__)


def job_group(job_id) -> str:
    return f"pipeline.job.{job_id}"


def _publish(job_id, seq: int) -> None:
    layer = get_channel_layer()
    if layer is None:
        return  # no channel layer: consumers find new events by polling the database
    async_to_sync(layer.group_send)(job_group(job_id), {"type": "job.event", "seq": seq})


def event_append(*, job_id, type: str, data: dict) -> JobEvent:
    """Next sequence number under the job's row lock; publish after commit."""
    with transaction.atomic():
        Job.objects.filter(pk=job_id).update(last_event_seq=F("last_event_seq") + 1)
        seq = Job.objects.filter(pk=job_id).values_list("last_event_seq", flat=True).get()
        event = JobEvent.objects.create(job_id=job_id, seq=seq, type=type, data=data)
        # robust: the change is committed whatever Redis does; a failed push is logged and the
        # consumers still find the event by polling, and later hooks (the enqueue) still run.
        transaction.on_commit(lambda: _publish(job_id, seq), robust=True)
    return event
