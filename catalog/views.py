"""Storefront pages: browse, cart, checkout, pay, orders. Thin: forms parse, services act."""

import re

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from billing.services import PaymentProviderError
from mozukai_hub.api.errors import ApplicationError

from . import selectors
from .cart import Cart
from .forms import AddToCartForm, CheckoutForm, ProductFilterForm
from .models import OrderStatus
from .selectors import id_from_text
from .services import orders as order_services
from .services import payments as payment_services

PAGE_SIZE = 24


def _shop_context(request, **context):
    return {"categories": selectors.category_list(), "cart_count": Cart(request.session).count, **context}


def shop_home(request):
    categories = list(selectors.category_list())
    featured = categories[0] if categories else None
    products = selectors.product_list(filters={"ordering": "newest", "in_stock": "true",
                                               **({"category": featured.slug} if featured else {})})[:8]
    return render(request, "catalog/home.html", _shop_context(request, categories=categories, featured=featured,
                                                              products=products))


def _listing(request, *, category=None):
    form = ProductFilterForm(request.GET or None)
    filters = form.filters() if request.GET else {}
    if category is not None:
        filters["category"] = category.slug
    page = Paginator(selectors.product_list(filters=filters), PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(request, "catalog/product_list.html", _shop_context(
        request, form=form, page=page, category=category, query=query.urlencode(),
    ))


def product_list(request):
    return _listing(request)


def category_detail(request, slug: str):
    return _listing(request, category=selectors.category_get(slug=slug))


def product_detail(request, slug: str):
    product = selectors.product_get(key=slug)
    form = AddToCartForm(initial={"product_id": product.pk, "quantity": 1})
    related = selectors.product_list(filters={"category": product.category.slug, "in_stock": "true"}).exclude(pk=product.pk)[:4]
    return render(request, "catalog/product_detail.html", _shop_context(
        request, product=product, form=form, related=related,
        model_viewer_src=reverse("catalog:product-model", args=[product.pk]) if product.model_asset_id else None,
    ))


@require_POST
def cart_add(request):
    form = AddToCartForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose a quantity of at least 1.")
        back = request.POST.get("next", "")
        if not url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()}, require_https=request.is_secure()):
            back = reverse("catalog:cart")  # never off-site: `next` comes from the form, anyone can set it
        return redirect(back)
    product = selectors.product_get(key=str(form.cleaned_data["product_id"]))
    quantity = Cart(request.session).add(product_id=product.pk, quantity=form.cleaned_data["quantity"])
    if quantity > product.stock_quantity:
        messages.warning(request, f"Only {product.stock_quantity} of {product.name} in stock; please lower the quantity.")
    else:
        messages.success(request, f"{product.name} is in your cart.")
    return redirect("catalog:cart")


@require_POST
def cart_update(request):
    cart = Cart(request.session)
    for key, value in request.POST.items():
        product_id = id_from_text(key[4:]) if key.startswith("qty-") else None
        if product_id is None or not re.fullmatch(r"-?[0-9]{1,9}", value.strip()):
            continue  # not a cart line, or not a quantity: left as it was
        cart.set(product_id=product_id, quantity=int(value))
    remove = id_from_text(request.POST.get("remove", ""))
    if remove is not None:
        cart.set(product_id=remove, quantity=0)
    return redirect("catalog:cart")


def cart_detail(request):
    cart = Cart(request.session)
    lines = cart.lines()
    return render(request, "catalog/cart.html", _shop_context(
        request, lines=lines, total=Cart.total(lines), can_checkout=bool(lines) and all(line.available for line in lines),
        currency=lines[0].product.currency if lines else settings.SHOP_CURRENCY,
    ))


@login_required
def checkout(request):
    cart = Cart(request.session)
    lines = cart.lines()
    if not lines:
        messages.info(request, "Your cart is empty.")
        return redirect("catalog:home")
    initial = {"shipping_name": request.user.full_name}
    form = CheckoutForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            order = order_services.order_place(
                user=request.user,
                lines=[order_services.OrderLine(product_id=line.product.pk, quantity=line.quantity) for line in lines],
                **form.cleaned_data,
            )
        except ApplicationError as error:
            messages.error(request, error.message)
            return redirect("catalog:cart")
        cart.clear()
        return redirect("catalog:order-pay", order_id=order.pk)
    return render(request, "catalog/checkout.html", _shop_context(
        request, form=form, lines=lines, total=Cart.total(lines), currency=lines[0].product.currency,
        expiry_minutes=settings.SHOP_ORDER_EXPIRY_MINUTES,
    ))


@login_required
def order_pay(request, order_id):
    order = selectors.order_get_for_user(user=request.user, order_id=order_id)
    if order.status != OrderStatus.PENDING:
        return redirect("catalog:order", order_id=order.pk)
    try:
        payment = payment_services.order_payment_start(order=order)
    except ApplicationError as error:
        messages.error(request, error.message)
        return redirect("catalog:order", order_id=order.pk)
    if request.method == "POST":
        if not payment.dev_mode:
            raise Http404("Card payments are confirmed by Stripe on this page.")
        payment_services.order_payment_confirm(payment=payment)
        return redirect(f"{reverse('catalog:order', args=[order.pk])}?paid=1")
    return render(request, "catalog/order_pay.html", _shop_context(
        request, order=order, payment=payment, dev_mode=payment.dev_mode,
        publishable_key=settings.STRIPE_PUBLISHABLE_KEY,
        return_url=request.build_absolute_uri(reverse("catalog:order", args=[order.pk])),
    ))


@login_required
def order_detail(request, order_id):
    order = selectors.order_get_for_user(user=request.user, order_id=order_id)
    if order.status == OrderStatus.PENDING and request.GET.get("payment_intent"):
        # Back from Stripe: read the outcome now rather than wait for the webhook.
        payment = payment_services.order_payment_for(order=order)
        if payment is not None and payment.payment_intent_id == request.GET["payment_intent"]:
            try:
                payment_services.order_payment_confirm(payment=payment)
            except PaymentProviderError:
                messages.info(request, "We are waiting for the payment to be confirmed; this page will show it.")
            order = selectors.order_get_for_user(user=request.user, order_id=order_id)
    return render(request, "catalog/order_detail.html", _shop_context(
        request, order=order, items=order.items.all(), payment=payment_services.order_payment_for(order=order),
        just_paid=request.GET.get("paid") == "1" or bool(request.GET.get("payment_intent")),
    ))


@login_required
@require_POST
def order_cancel(request, order_id):
    order = selectors.order_get_for_user(user=request.user, order_id=order_id)
    try:
        order_services.order_cancel_by_customer(order=order)
        messages.success(request, f"Order {order.short_id} is cancelled.")
    except ApplicationError as error:
        messages.error(request, error.message)
    return redirect("catalog:order", order_id=order.pk)


@login_required
def order_history(request):
    page = Paginator(selectors.order_list_for_user(user=request.user), 20).get_page(request.GET.get("page"))
    return render(request, "catalog/order_list.html", _shop_context(request, page=page))
