"""The job's side of the billing contract: hold on create, settle or release once."""

from billing import services as billing

from ..models import Job
from ..owners import JobOwner


def credits_reference(job: Job) -> str:
    return f"job:{job.id}"


def job_credits_hold(*, job: Job, owner: JobOwner) -> None:
    """Inside the job-creation transaction: not enough credits rolls the job back (402).

    A visitor (no user) spends its address's free credits; a signed-in user may spend its
    address's free credits, then its own balance (billing decides, one rule)."""
    if job.credit_cost:
        billing.credits_hold(user=owner.user, client_ip=owner.client_ip, amount=job.credit_cost,
                             reference=job.credit_reference)


def job_credits_end(*, job: Job) -> str:
    """Called once, under the job's row lock, when it reaches a terminal status."""
    if not job.credit_cost or job.credits_state != Job.CreditsState.HELD:
        return job.credits_state
    if job.status == Job.Status.COMPLETED:
        billing.credits_settle(reference=job.credit_reference)
        return Job.CreditsState.SETTLED
    billing.credits_release(reference=job.credit_reference)
    return Job.CreditsState.RELEASED
