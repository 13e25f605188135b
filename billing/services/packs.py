"""Credit packs: billing's own payment handler (purpose `credit_pack`)."""

from __future__ import annotations

from .ledger import credits_purchase, credits_refund


class CreditPackHandler:
    """Called inside the payment's status-change transaction, once per change.

    The ledger keys (`purchase:payment:<id>`, `refund:payment:<id>`) make a second call a
    no-op as well: a pack is credited exactly once whichever path fulfils it.
    """

    def on_succeeded(self, payment) -> None:
        if payment.user_id is None:
            return  # the buyer deleted their account (and their credits with it)
        credits_purchase(user=payment.user, amount=payment.credits, reference=f"payment:{payment.pk}",
                         reason=f"Bought a pack of {payment.credits} credits")

    def on_failed(self, payment) -> None:
        """Nothing was credited, so nothing to take back."""

    def on_refunded(self, payment) -> None:
        if payment.user_id is None:
            return
        credits_refund(user=payment.user, amount=payment.credits, reference=f"payment:{payment.pk}",
                       reason=f"Pack of {payment.credits} credits refunded")
