from rest_framework import serializers

from mozukai_hub.api.serializers import StrictSerializer

from ..models import CreditEntry


class ConsumeInput(StrictSerializer):
    amount = serializers.IntegerField(min_value=1, max_value=1000, default=1)
    reason = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")


class CheckoutInput(StrictSerializer):
    pack = serializers.IntegerField(help_text="Credits in the pack: 5, 10 or 20 (see GET credits/packs).")


class CreditEntrySerializer(serializers.ModelSerializer):
    class Meta:
        model = CreditEntry
        fields = ["id", "kind", "amount", "reference", "reason", "created_at"]


class PackSerializer(serializers.Serializer):
    credits = serializers.IntegerField()
    price_minor = serializers.IntegerField()
    currency = serializers.CharField()


class CreditsOutput(serializers.Serializer):
    authenticated = serializers.BooleanField()
    balance = serializers.IntegerField(help_text="Own credits when signed in, else the free credits of this client IP.")
    free_credits = serializers.IntegerField(help_text="Free credits left for this client IP.")
    credits = serializers.IntegerField(help_text="What this caller can spend now (seed 002): the free credits of this "
                                                 "client IP, plus your own when signed in.")
    held = serializers.IntegerField(help_text="Reserved by unfinished jobs (already off `credits`): open holds on this "
                                              "client IP's free credits and, signed in, on your own.")
    default_free_credits = serializers.IntegerField()
    recent = CreditEntrySerializer(many=True)
    packs = PackSerializer(many=True)
    dev_payments = serializers.BooleanField()


class ConsumeOutput(serializers.Serializer):
    consumed = serializers.IntegerField()
    balance = serializers.IntegerField(help_text="Afterwards: own credits when signed in, else the free IP credits.")
    credits = serializers.IntegerField(help_text="Afterwards: what this caller can still spend.")
    entry_id = serializers.IntegerField()


class CheckoutOutput(serializers.Serializer):
    payment_id = serializers.UUIDField()
    session_id = serializers.CharField()
    checkout_url = serializers.CharField()
    url = serializers.CharField()
    pack = serializers.IntegerField()
    amount_minor = serializers.IntegerField()
    currency = serializers.CharField()
    status = serializers.CharField()
    dev_mode = serializers.BooleanField()


class QuoteOutput(serializers.Serializer):
    item = serializers.CharField()
    quantity = serializers.IntegerField()
    credits = serializers.IntegerField()
