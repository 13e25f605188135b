"""Credit ledger, payments, Stripe events and stored idempotent responses.

The ledger is append-only: every movement of credits is one `CreditEntry` row. The
`CreditAccount.balance` column is a cache of `sum(entries.amount)` kept in the same
transaction as each insert (see `billing.services.ledger`); `manage.py billing_check_ledger`
proves it.
"""

import uuid

from django.conf import settings
from django.db import IntegrityError, models
from django.db.models import Q


class CreditAccount(models.Model):
    """Whose credits: a user, or an anonymous client identified by its trusted IP.

    Accounts are never deleted. When its user is deleted an account is closed: it keeps its
    ledger (a record of money and credits that moved) with no owner, nobody can spend from it,
    and a hold that ends after the deletion (a job finishing meanwhile) still lands on it.
    """

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="credit_account"
    )
    client_ip = models.GenericIPAddressField(null=True, blank=True, unique=True)
    # Spendable credits (holds already taken off); may go below zero after a refund.
    balance = models.IntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        # Staff change balances only through this permission (view_creditaccount only shows them).
        permissions = [("adjust_credits", "Can adjust credit balances")]
        constraints = [
            # A user's, an IP's, or closed (neither: its user was deleted).
            models.CheckConstraint(
                condition=Q(user__isnull=True) | Q(client_ip__isnull=True), name="credit_account_at_most_one_owner",
            ),
        ]

    def __str__(self):
        if self.user_id:
            return f"{self.user}"
        return f"anonymous {self.client_ip}" if self.client_ip else f"closed account #{self.pk} (user deleted)"

    @property
    def is_anonymous(self) -> bool:
        return self.user_id is None and self.client_ip is not None

    @property
    def is_closed(self) -> bool:
        return self.user_id is None and self.client_ip is None


class EntryKind(models.TextChoices):
    GRANT = "grant", "Grant"
    PURCHASE = "purchase", "Purchase"
    CONSUME = "consume", "Consume"
    HOLD = "hold", "Hold"
    SETTLE = "settle", "Settle"
    RELEASE = "release", "Release"
    REFUND = "refund", "Refund"
    ADJUSTMENT = "adjustment", "Adjustment"


# The sign each kind of entry carries: 1 adds credits, -1 takes them, 0 moves nothing (a settle
# records that a hold became a charge), None either way but never nothing (staff adjustments).
KIND_SIGNS = {
    EntryKind.GRANT: 1, EntryKind.PURCHASE: 1, EntryKind.RELEASE: 1,
    EntryKind.CONSUME: -1, EntryKind.HOLD: -1, EntryKind.REFUND: -1,
    EntryKind.SETTLE: 0, EntryKind.ADJUSTMENT: None,
}


def amount_fits_kind(kind: str, amount) -> bool:
    """Whether a ledger entry of `kind` may move `amount` (a whole number of credits, never a bool)."""
    if kind not in KIND_SIGNS or isinstance(amount, bool) or not isinstance(amount, int):
        return False
    sign = KIND_SIGNS[kind]
    return amount != 0 if sign is None else (amount > 0) - (amount < 0) == sign


def entries_keeping_the_sign_rule() -> Q:
    """`amount_fits_kind` as a filter: what `manage.py billing_check_ledger` looks for."""
    by_sign = {1: "amount__gt", -1: "amount__lt", 0: "amount"}
    rule = Q(kind=EntryKind.ADJUSTMENT) & ~Q(amount=0)
    for kind, sign in KIND_SIGNS.items():
        if sign is not None:
            rule |= Q(kind=kind, **{by_sign[sign]: 0})
    return rule


class AppendOnly(Exception):
    pass


class CreditEntry(models.Model):
    """One movement of credits. Never updated, never deleted."""

    # Lean on purpose: every movement inserts a row, and PostgreSQL pays for each index and
    # constraint of this table on every insert (the account's recent lines and the unique key
    # are what is looked up).
    #
    # No database foreign key on `account` (Django still joins and cascades): every entry insert
    # would check it with a KEY SHARE lock on the account row, the row every spend updates, and
    # under concurrency those locks pile up as MultiXacts on the hottest row we have. An entry
    # cannot lose its account: entries are written only by `billing.services.ledger`, with an
    # account id taken from the account row or the hold entry in the same statement, and
    # accounts are never deleted (a deleted user's account is closed). `manage.py
    # billing_check_ledger` reports any entry without its account all the same.
    account = models.ForeignKey(CreditAccount, on_delete=models.CASCADE, related_name="entries", db_index=False,
                                db_constraint=False)
    kind = models.CharField(max_length=16, choices=EntryKind.choices)
    # Signed: what this row adds to the spendable balance. A settle moves nothing (the hold
    # already took the credits); its row records that the hold became a charge.
    amount = models.IntegerField()
    idempotency_key = models.CharField(max_length=255)
    reference = models.CharField(max_length=255, blank=True)
    reason = models.CharField(max_length=500, blank=True)
    # Staff adjustments only.
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", db_index=False
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "credit entries"
        constraints = [
            models.UniqueConstraint(fields=["idempotency_key"], name="credit_entry_idempotency_key_unique"),
            # No CheckConstraint for kind and sign (`KIND_SIGNS`): PostgreSQL re-reads and
            # prepares a table's check expressions on every statement that inserts, and these
            # two cost about a third of a spend's server time (bench/credits.py). The ledger's
            # statements take their kinds from `EntryKind` and their amounts validated
            # (`_check_amount`) or literal, `save()` refuses a bad row, and `manage.py
            # billing_check_ledger` reports any that got in around both.
        ]
        indexes = [
            models.Index(fields=["account", "-created_at"], name="credit_entry_account_recent"),
            # Deleting a staff user nulls their adjustments; almost every row has no author.
            models.Index(fields=["created_by"], condition=Q(created_by__isnull=False), name="credit_entry_author"),
        ]

    def __str__(self):
        return f"{self.kind} {self.amount:+d} ({self.reference or self.idempotency_key})"

    def save(self, *args, **kwargs):
        if self.pk is not None and not kwargs.get("force_insert"):
            raise AppendOnly("Ledger entries are append-only.")
        if not amount_fits_kind(self.kind, self.amount):
            raise IntegrityError(f"A {str(self.kind)!r} ledger entry cannot move {self.amount!r} credits.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise AppendOnly("Ledger entries are append-only.")


class PaymentPurpose(models.TextChoices):
    CREDIT_PACK = "credit_pack", "Credit pack"
    ORDER = "order", "Order"


class PaymentKind(models.TextChoices):
    PAYMENT_INTENT = "payment_intent", "PaymentIntent"
    CHECKOUT_SESSION = "checkout_session", "Checkout Session"


class PaymentStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    PROCESSING = "processing", "Processing"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"
    CANCELED = "canceled", "Canceled"
    REFUNDED = "refunded", "Refunded"


# The one transition table. Anything else is ignored, which is what makes events safe to
# apply in any order: a late `payment_failed` after a success is not a transition.
PAYMENT_TRANSITIONS: dict[str, set[str]] = {
    PaymentStatus.PENDING: {PaymentStatus.PROCESSING, PaymentStatus.SUCCEEDED, PaymentStatus.FAILED, PaymentStatus.CANCELED},
    PaymentStatus.PROCESSING: {PaymentStatus.SUCCEEDED, PaymentStatus.FAILED, PaymentStatus.CANCELED},
    # A PaymentIntent whose attempt failed can still be paid with another card (→ succeeded).
    # Never back to processing: a late `checkout.session.completed` (unpaid) or
    # `payment_intent.processing` would revive a payment that ended failed, and its next
    # failure would run the handler's on_failed a second time. A retry with a delayed method
    # stays failed until it succeeds.
    PaymentStatus.FAILED: {PaymentStatus.SUCCEEDED, PaymentStatus.CANCELED},
    PaymentStatus.SUCCEEDED: {PaymentStatus.REFUNDED},
    PaymentStatus.CANCELED: set(),
    PaymentStatus.REFUNDED: set(),
}


class Payment(models.Model):
    """A PaymentIntent or Checkout Session we created, for a purpose and a reference."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="payments")
    purpose = models.CharField(max_length=32, choices=PaymentPurpose.choices)
    reference = models.CharField(max_length=255)
    kind = models.CharField(max_length=32, choices=PaymentKind.choices)
    # Stripe's id (cs_… or pi_…); "dev_…" in dev payment mode. Empty until Stripe answered.
    stripe_id = models.CharField(max_length=255, null=True, blank=True, unique=True)
    payment_intent_id = models.CharField(max_length=255, blank=True, db_index=True)
    client_secret = models.CharField(max_length=255, blank=True)
    checkout_url = models.CharField(max_length=2000, blank=True)
    status = models.CharField(max_length=16, choices=PaymentStatus.choices, default=PaymentStatus.PENDING)
    amount_minor = models.PositiveIntegerField()
    currency = models.CharField(max_length=3)
    description = models.CharField(max_length=500, blank=True)
    # Credit packs: how many credits this payment buys.
    credits = models.PositiveIntegerField(default=0)
    dev_mode = models.BooleanField(default=False)
    refund_id = models.CharField(max_length=255, blank=True)
    amount_refunded_minor = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    succeeded_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        permissions = [("refund_payment", "Can refund payments")]
        constraints = [
            models.UniqueConstraint(fields=["purpose", "reference"], name="payment_purpose_reference_unique"),
            models.CheckConstraint(condition=Q(status__in=PaymentStatus.values), name="payment_status_valid"),
            models.CheckConstraint(condition=Q(purpose__in=PaymentPurpose.values), name="payment_purpose_valid"),
            models.CheckConstraint(condition=Q(kind__in=PaymentKind.values), name="payment_kind_valid"),
        ]

    def __str__(self):
        return f"{self.get_purpose_display()} {self.reference} ({self.status})"

    @property
    def amount_display(self) -> str:
        return f"{self.amount_minor / 100:.2f} {self.currency.upper()}"


class StripeEventStatus(models.TextChoices):
    RECEIVED = "received", "Received"
    PROCESSED = "processed", "Processed"
    FAILED = "failed", "Failed"


class StripeEvent(models.Model):
    """Every verified webhook event, stored once by its Stripe id."""

    event_id = models.CharField(max_length=255, unique=True)
    type = models.CharField(max_length=100, db_index=True)
    payload = models.JSONField()
    status = models.CharField(max_length=16, choices=StripeEventStatus.choices, default=StripeEventStatus.RECEIVED)
    attempts = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)
    received_at = models.DateTimeField(auto_now_add=True)
    processed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-received_at"]
        constraints = [
            models.CheckConstraint(condition=Q(status__in=StripeEventStatus.values), name="stripe_event_status_valid"),
        ]

    def __str__(self):
        return f"{self.type} {self.event_id} ({self.status})"


class IdempotentRequest(models.Model):
    """The first response to a POST sent with an `Idempotency-Key`, replayed for repeats."""

    owner = models.CharField(max_length=100)  # "user:<id>" or "ip:<address>"
    key = models.CharField(max_length=255)
    method = models.CharField(max_length=10)
    path = models.CharField(max_length=500)
    request_hash = models.CharField(max_length=64)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)  # null while in progress
    response_body = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["owner", "key"], name="idempotent_request_owner_key_unique")]

    def __str__(self):
        return f"{self.owner} {self.key}"
