"""The job's side of the billing contract: quote and hold on create, settle or release once."""

from billing import services as billing

from ..models import Job


def credits_reference(job: Job) -> str:
    return f"job:{job.id}"


def job_credits_quote(*, kind: str) -> int:
    return billing.price_quote(item=kind, quantity=1)


def job_credits_hold(*, job: Job, client_ip: str | None) -> None:
    """Inside the job-creation transaction: not enough credits rolls the job back (402)."""
    if job.credit_cost:
        billing.credits_hold(user=job.owner, client_ip=client_ip, amount=job.credit_cost, reference=job.credit_reference)


def job_credits_end(*, job: Job) -> str:
    """Called once, under the job's row lock, when it reaches a terminal status."""
    if not job.credit_cost or job.credits_state != "held":
        return job.credits_state
    if job.status == Job.Status.COMPLETED:
        billing.credits_settle(reference=job.credit_reference)
        return "settled"
    billing.credits_release(reference=job.credit_reference)
    return "released"
