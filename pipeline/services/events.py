"""Appending to a job's ordered event log and waking websocket consumers after commit."""

from django.db import transaction
from django.db.models import F

from mozukai_hub.streams import stream_publish

from ..models import Job, JobEvent


def job_group(job_id) -> str:
    return f"pipeline.job.{job_id}"


def event_append(*, job_id, type: str, data: dict) -> JobEvent:
    """Next sequence number under the job's row lock; publish after commit."""
    with transaction.atomic():
        Job.objects.filter(pk=job_id).update(last_event_seq=F("last_event_seq") + 1)
        seq = Job.objects.filter(pk=job_id).values_list("last_event_seq", flat=True).get()
        event = JobEvent.objects.create(job_id=job_id, seq=seq, type=type, data=data)
        # After commit and robust: a failed push is logged, the consumers still find the event
        # by polling, and later hooks (the enqueue) still run.
        stream_publish(job_group(job_id), seq)
    return event
