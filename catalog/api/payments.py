"""Seed 004's payments API for orders: create-intent, confirm, and read a payment."""

from uuid import UUID

from django.conf import settings
from django.http import Http404
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from billing.models import Payment
from mozukai_hub.api.serializers import StrictSerializer

from .. import selectors
from ..services import payments as payment_services


class CreateIntentInput(StrictSerializer):
    order_id = serializers.UUIDField()


class ConfirmInput(StrictSerializer):
    payment_id = serializers.UUIDField(required=False)
    payment_intent_id = serializers.CharField(max_length=255, required=False)
    order_id = serializers.UUIDField(required=False)

    def validate(self, attrs):
        if not attrs:
            raise serializers.ValidationError({"payment_intent_id": ["Send payment_intent_id, payment_id or order_id."]})
        return attrs


class PaymentOutput(serializers.Serializer):
    id = serializers.UUIDField()
    order_id = serializers.UUIDField()
    status = serializers.CharField()
    amount = serializers.IntegerField(help_text="In the currency's minor unit (cents).")
    currency = serializers.CharField()
    payment_intent_id = serializers.CharField(allow_null=True)
    dev_mode = serializers.BooleanField()
    amount_refunded = serializers.IntegerField()
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()


class CreateIntentOutput(PaymentOutput):
    client_secret = serializers.CharField()
    publishable_key = serializers.CharField(allow_null=True)


class ConfirmOutput(PaymentOutput):
    order_status = serializers.CharField()


def payment_data(payment: Payment) -> dict:
    return {
        "id": str(payment.pk),
        "order_id": payment.reference,
        "status": payment.status,
        "amount": payment.amount_minor,
        "currency": payment.currency,
        "payment_intent_id": payment.payment_intent_id or None,
        "dev_mode": payment.dev_mode,
        "amount_refunded": payment.amount_refunded_minor,
        "created_at": payment.created_at.isoformat(),
        "updated_at": payment.updated_at.isoformat(),
    }


def payment_get_for_user(*, user, **lookup) -> Payment:
    """The caller's order payment; anyone else's is a 404."""
    payment = Payment.objects.filter(purpose=payment_services.PURPOSE, user=user, **lookup).first()
    if payment is None:
        raise Http404("No such payment.")
    return payment


class CreateIntentView(APIView):
    @extend_schema(request=CreateIntentInput, responses=CreateIntentOutput, summary="Start paying an order: the client secret for Stripe's Payment Element.")
    def post(self, request):
        data = CreateIntentInput(data=request.data)
        data.is_valid(raise_exception=True)
        order = selectors.order_get_for_user(user=request.user, order_id=data.validated_data["order_id"])
        payment = payment_services.order_payment_start(order=order)
        return Response({
            **payment_data(payment),
            "client_secret": payment.client_secret,
            "publishable_key": settings.STRIPE_PUBLISHABLE_KEY or None,
        })


class ConfirmView(APIView):
    @extend_schema(request=ConfirmInput, responses=ConfirmOutput, summary="Re-read the payment's outcome from Stripe (dev payment mode: complete it).")
    def post(self, request):
        data = ConfirmInput(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        if "payment_id" in v:
            payment = payment_get_for_user(user=request.user, pk=v["payment_id"])
        elif "payment_intent_id" in v:
            payment = payment_get_for_user(user=request.user, payment_intent_id=v["payment_intent_id"])
        else:
            payment = payment_get_for_user(user=request.user, reference=str(v["order_id"]))
        payment = payment_services.order_payment_confirm(payment=payment)
        order = selectors.order_get_for_user(user=request.user, order_id=payment.reference)
        return Response({**payment_data(payment), "order_status": order.status})


class PaymentDetailView(APIView):
    @extend_schema(responses=PaymentOutput, summary="One of your order payments (by payment id or PaymentIntent id).")
    def get(self, request, payment_id: str):
        try:
            lookup = {"pk": UUID(payment_id)}
        except ValueError:
            lookup = {"payment_intent_id": payment_id}
        return Response(payment_data(payment_get_for_user(user=request.user, **lookup)))
