"""Credits API (seed 002) and the Stripe webhook. Each view: parse → one service → render."""

from django.conf import settings
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.generics import ListAPIView
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from mozukai_hub.api.errors import ApplicationError
from mozukai_hub.api.fields import query_int
from mozukai_hub.client_ip import client_ip

from .. import selectors, services
from ..models import CreditEntry
from ..stripe_client import dev_payments_enabled
from . import serializers as s
from .idempotency import idempotent

# Most units one quote prices (a job of any kind is one unit, or one per thumbnail variant).
QUOTE_MAX_QUANTITY = 10_000

IDEMPOTENCY_HEADER = OpenApiParameter(
    "Idempotency-Key", location=OpenApiParameter.HEADER, required=False,
    description="Repeat a POST safely: the same key and body replays the first response; another body is a 422.",
)


def _summary_data(summary) -> dict:
    return {
        "authenticated": summary.authenticated,
        "balance": summary.balance,
        "free_credits": summary.free_credits,
        "credits": summary.credits,
        "held": summary.held,
        "default_free_credits": settings.DEFAULT_FREE_CREDITS,
        "recent": s.CreditEntrySerializer(summary.recent, many=True).data,
        "packs": selectors.credit_packs(),
        "dev_payments": dev_payments_enabled(),
    }


class CreditsView(APIView):
    permission_classes = [AllowAny]

    @extend_schema(responses=s.CreditsOutput, summary="Balance, free IP credits and recent ledger lines (anonymous callers too).")
    def get(self, request):
        summary = selectors.credit_summary(user=request.user, client_ip=client_ip(request))
        return Response(_summary_data(summary))


class CreditsConsumeView(APIView):
    permission_classes = [AllowAny]

    @extend_schema(request=s.ConsumeInput, responses=s.ConsumeOutput, parameters=[IDEMPOTENCY_HEADER],
                   summary="Spend credits: the free credits of your address first, then (signed in) your own. "
                           "402 when short.")
    @idempotent
    def post(self, request):
        data = s.ConsumeInput(data=request.data)
        data.is_valid(raise_exception=True)
        movement = services.credits_consume(
            user=request.user, client_ip=client_ip(request), amount=data.validated_data["amount"],
            reason=data.validated_data["reason"], idempotency_key=getattr(request, "idempotency_key", None),
        )
        summary = selectors.credit_balances(user=request.user, client_ip=client_ip(request))
        return Response({"consumed": -movement.amount, "balance": summary.balance, "credits": summary.credits,
                         "entry_id": movement.entry_id})


class CreditsCheckoutView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(request=s.CheckoutInput, responses={201: s.CheckoutOutput}, parameters=[IDEMPOTENCY_HEADER],
                   summary="Buy a credit pack: answers a Stripe Checkout Session URL (or the dev payment page).")
    @idempotent
    def post(self, request):
        data = s.CheckoutInput(data=request.data)
        data.is_valid(raise_exception=True)
        payment = services.credit_checkout_create(user=request.user, pack=data.validated_data["pack"],
                                                  idempotency_key=getattr(request, "idempotency_key", None))
        url = payment.checkout_url if payment.checkout_url.startswith("http") else request.build_absolute_uri(payment.checkout_url)
        return Response({
            "payment_id": str(payment.pk), "session_id": payment.stripe_id, "checkout_url": url, "url": url,
            "pack": payment.credits, "amount_minor": payment.amount_minor, "currency": payment.currency,
            "status": payment.status, "dev_mode": payment.dev_mode,
        }, status=status.HTTP_201_CREATED)


class CreditsCheckoutStatusView(APIView):
    @extend_schema(responses=s.CheckoutOutput, summary="How a checkout ended (asks Stripe and fulfils once if paid).")
    def get(self, request, session_id: str):
        payment = services.credit_checkout_sync(user=request.user, session_id=session_id)
        return Response({
            "payment_id": str(payment.pk), "session_id": payment.stripe_id, "checkout_url": payment.checkout_url,
            "url": payment.checkout_url, "pack": payment.credits, "amount_minor": payment.amount_minor,
            "currency": payment.currency, "status": payment.status, "dev_mode": payment.dev_mode,
        })


class CreditsHistoryView(ListAPIView):
    permission_classes = [AllowAny]
    serializer_class = s.CreditEntrySerializer

    def get_queryset(self):
        account = selectors.credit_account_for_caller(user=self.request.user, client_ip=client_ip(self.request))
        return selectors.credit_entries(account=account) if account else CreditEntry.objects.none()


class CreditPacksView(APIView):
    permission_classes = [AllowAny]

    @extend_schema(responses=s.PackSerializer(many=True), summary="Credit packs on sale.")
    def get(self, request):
        return Response(selectors.credit_packs())


class CreditQuoteView(APIView):
    permission_classes = [AllowAny]

    @extend_schema(
        parameters=[OpenApiParameter("item", str, required=True), OpenApiParameter("quantity", int, required=False)],
        responses=s.QuoteOutput, summary="What a thing costs in credits (the one price table in settings).",
    )
    def get(self, request):
        item = request.query_params.get("item", "")
        quantity = query_int(request, "quantity", default=1, min_value=0, max_value=QUOTE_MAX_QUANTITY)
        try:
            credits = services.price_quote(item=item, quantity=quantity)
        except ValueError as exc:
            raise ApplicationError(str(exc), code="invalid_quote") from exc
        return Response({"item": item, "quantity": quantity, "credits": credits})


class StripeWebhookView(APIView):
    """Signed deliveries only; nothing is read or written before the signature is proven."""

    permission_classes = [AllowAny]
    authentication_classes = []
    throttle_classes = []

    @extend_schema(request=None, responses={200: None}, summary="Stripe webhook endpoint (Stripe-Signature required).")
    def post(self, request):
        event = services.stripe_event_receive(payload=request.body, signature=request.headers.get("Stripe-Signature"))
        return Response({"received": True, "event_id": event.event_id, "status": event.status})
