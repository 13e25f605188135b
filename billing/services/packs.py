"""Credit packs: billing's own payment handler (purpose `credit_pack`)."""

from __future__ import annotations

import functools
import logging

from django.db import transaction

from mozukai_hub.api.errors import ApplicationError

from ..models import Payment
from .ledger import credits_purchase, credits_refund
from .payments import payment_refund

logger = logging.getLogger(__name__)


class CreditPackHandler:
    """Called inside the payment's status-change transaction, once per change.

    The ledger keys (`purchase:payment:<id>`, `refund:payment:<id>`) make a second call a
    no-op as well: a pack is credited exactly once whichever path fulfils it.
    """

    def on_succeeded(self, payment) -> None:
        if payment.user_id is None:
            # The buyer deleted their account before the payment completed: there is no one
            # to credit, so the money goes back. After commit: no Stripe call inside our
            # transaction (and the refund needs the succeeded status committed).
            reason = "The buyer deleted their account before the credit pack's payment completed."
            logger.warning("Payment %s succeeded for a deleted account; refunding it.", payment.pk)
            transaction.on_commit(functools.partial(_refund_orphaned_pack, payment_id=payment.pk, reason=reason))
            return
        credits_purchase(user=payment.user, amount=payment.credits, reference=f"payment:{payment.pk}",
                         reason=f"Bought a pack of {payment.credits} credits")

    def on_failed(self, payment) -> None:
        """Nothing was credited, so nothing to take back."""

    def on_refunded(self, payment) -> None:
        if payment.user_id is None:
            return
        credits_refund(user=payment.user, amount=payment.credits, reference=f"payment:{payment.pk}",
                       reason=f"Pack of {payment.credits} credits refunded")


def _refund_orphaned_pack(*, payment_id, reason: str) -> None:
    try:
        payment_refund(payment=Payment.objects.get(pk=payment_id), reason=reason)
    except ApplicationError:
        # Not swallowed: re-raised to the caller. Staff refund it from the admin.
        logger.error("Refund of payment %s (deleted buyer) failed; refund it from the admin.", payment_id)
        raise
