"""Live job progress: `ws /api/v1/jobs-socket/<job_id>?after=N`.

Sends every event of the caller's job with `seq > after`, in order, then new ones as they
happen; replay, push or poll, ping/pong and close codes come from
`mozukai_hub.streams.SequencedStreamConsumer`. Another user's job closes with 4404.

An anonymous visitor's job is read with its token: `?visitor_token=…` (the auth middleware lets
an anonymous socket through only with that parameter). The token grants read access whoever
presents it, signed in or not; a wrong one closes with 4404 like a missing job.
"""

from mozukai_hub.streams import SequencedStreamConsumer

from . import selectors
from .services.events import job_group


class JobEventsConsumer(SequencedStreamConsumer):
    def stream_get(self, *, user, visitor_token: str, job_id):
        return selectors.job_get_for_caller(user=user, job_id=job_id, visitor_token=visitor_token)

    def stream_group(self, job) -> str:
        return job_group(job.pk)

    def messages_after(self, job, after: int) -> list[dict]:
        return [event.as_message() for event in selectors.job_events_after(job=job, after=after)]
