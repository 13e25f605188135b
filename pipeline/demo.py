"""Demo data for `make run`: credits for the demo customer to try text-to-3D on /jobs/."""

from accounts.models import User
from billing.services import credits_grant


def seed_pipeline(stdout) -> None:
    customer = User.objects.filter(email="customer@mozukai.local").first()
    if customer is None:
        return
    credits_grant(user=customer, amount=20, reason="Demo credits for text-to-3D", idempotency_key="demo-pipeline-customer")
    stdout.write("  customer has 20 demo credits: try /jobs/ (\"a bonsai pot 120 mm wide\")")
