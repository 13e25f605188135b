"""django-q2 tasks of the design chat. They take ids and are safe to run twice."""

from . import runs


def chat_run_execute(run_id: str) -> str:
    """Run one assistant action (claimed by a conditional UPDATE; a duplicate is a no-op)."""
    return runs.chat_run_execute(run_id)


def chat_runs_reap() -> dict:
    """Scheduled every minute (migration 0003): time-outs, lost notifications, lost queue messages."""
    return runs.chat_runs_reap()


def chat_run_render_finished(run_id: str) -> str:
    """A generate_scad run's render job ended (sent by the job-finished listener): check and answer."""
    return runs.chat_run_render_finished(run_id)
