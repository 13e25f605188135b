"""Credits pages: balance and history, buy a pack, success/cancel, dev payment mode checkout."""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from mozukai_hub.api.errors import ApplicationError
from mozukai_hub.client_ip import client_ip

from . import selectors, services
from .models import PaymentPurpose
from .stripe_client import dev_payments_enabled


def credits_page(request):
    summary = selectors.credit_summary(user=request.user, client_ip=client_ip(request))
    payments = selectors.credit_payments_for_user(user=request.user) if request.user.is_authenticated else []
    return render(request, "billing/credits.html", {
        "summary": summary, "payments": payments,
        "packs": [{**pack, "price": selectors.money_display(pack["price_minor"], pack["currency"])} for pack in selectors.credit_packs()],
        "dev_payments": dev_payments_enabled(), "default_free_credits": settings.DEFAULT_FREE_CREDITS,
    })


@login_required
@require_POST
def buy_pack(request):
    try:
        pack = int(request.POST.get("pack", ""))
        payment = services.credit_checkout_create(user=request.user, pack=pack)
    except (ValueError, ValidationError):
        messages.error(request, "Choose one of the packs below.")
        return redirect("billing:credits")
    except ApplicationError as exc:
        messages.error(request, exc.message)
        return redirect("billing:credits")
    return redirect(payment.checkout_url)


@login_required
def checkout_success(request):
    session_id = request.GET.get("session_id", "")
    try:
        payment = services.credit_checkout_sync(user=request.user, session_id=session_id)
    except ApplicationError as exc:
        messages.error(request, f"We could not confirm the payment yet: {exc.message}")
        return redirect("billing:credits")
    summary = selectors.credit_summary(user=request.user, client_ip=client_ip(request))
    return render(request, "billing/success.html", {"payment": payment, "summary": summary})


def checkout_cancel(request):
    return render(request, "billing/cancel.html")


@login_required
@require_http_methods(["GET", "POST"])
def dev_checkout(request, payment_id):
    """Dev payment mode only (no Stripe key, DEBUG on): stands in for Stripe's checkout page."""
    if not dev_payments_enabled():
        raise Http404("Dev payment mode is off.")
    payment = selectors.payment_get_for_user(user=request.user, payment_id=payment_id)
    if not payment.dev_mode or payment.purpose != PaymentPurpose.CREDIT_PACK:
        raise Http404("Not a dev-mode checkout.")
    if request.method == "POST":
        services.payment_dev_complete(payment=payment)
        return redirect(f"{request.build_absolute_uri('/credits/success/')}?session_id={payment.stripe_id}")
    return render(request, "billing/dev_checkout.html", {"payment": payment})
