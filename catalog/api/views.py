"""Shop API (seed 004): products, orders, order status. Views parse, call one service or
selector, and render."""

import re
from urllib.parse import urlencode

from django.core.paginator import InvalidPage
from django.http import HttpResponse
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import permissions, status
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from mozukai_hub.api.pagination import HeaderPagination

from .. import cache as list_cache
from .. import selectors
from ..services import orders as order_services
from ..services import products as product_services
from . import listing
from . import serializers as s

LIST_FILTERS = ("category", "min_price", "max_price", "in_stock", "q", "search", "ordering", "page", "page_size")
MAX_PAGE_OFFSET = 2**31  # far beyond any catalog; keeps OFFSET inside bigint


class IsStaffOrReadOnly(permissions.BasePermission):
    """Anyone reads; only staff write (seed 004's "(admin)")."""

    def has_permission(self, request, view):
        if request.method in permissions.SAFE_METHODS:
            return True
        return bool(request.user and request.user.is_authenticated and request.user.is_staff)


class IsStaff(permissions.BasePermission):
    def has_permission(self, request, view):
        return bool(request.user and request.user.is_authenticated and request.user.is_staff)


def _json(body: bytes, *, status_code: int = 200, headers: dict | None = None) -> HttpResponse:
    return HttpResponse(body, status=status_code, content_type="application/json", headers=headers)


def _list_query(request) -> tuple[dict[str, str], str]:
    params = {key: request.GET[key] for key in LIST_FILTERS if request.GET.get(key)}
    # Encoded, so a value holding "&" or "=" cannot pose as another filter in the cache key.
    return params, urlencode(sorted(params.items()))


def _product_page(request, products) -> tuple[bytes, dict]:
    """The requested page as JSON bytes plus the paging headers (HeaderPagination's).

    The page and the total come from one query; the page number is checked against the
    total afterwards (an out-of-range page is a 404, as DRF answers it)."""
    paging = HeaderPagination()
    page_size = paging.get_page_size(request)
    raw_page = request.query_params.get(paging.page_query_param) or "1"
    # Only a page that could exist is read at its offset; anything else (not ASCII digits, 0,
    # "last", or so far out that the OFFSET would overflow) reads page 1 for the total, and the
    # paginator then validates the number against that total (404) before any other OFFSET.
    number = int(raw_page) if re.fullmatch(r"[0-9]{1,19}", raw_page) else 0
    if not 1 <= number <= MAX_PAGE_OFFSET // page_size:
        number = 1
    body, total = listing.product_page_json(products, offset=(number - 1) * page_size, limit=page_size)
    paginator = paging.django_paginator_class(products, page_size)
    paginator.count = total  # known already: no second COUNT query
    try:
        paging.page = paginator.page(raw_page if raw_page != "last" else paginator.num_pages)
    except InvalidPage:
        raise NotFound("Invalid page.") from None
    if paging.page.number != number:
        body, _ = listing.product_page_json(products, offset=(paging.page.number - 1) * page_size, limit=page_size)
    paging.request = request
    return body, paging.get_paging_headers()


class ProductListView(APIView):
    """The public product list, cached; staff create products here.

    An anonymous GET whose page is cached is answered before DRF's authentication and
    throttling (one cache round trip, the same bytes for everyone). Misses, and every request
    that carries credentials, go the full way, throttles included, so forcing misses with
    ever-new filters is rate-limited.
    """

    permission_classes = [IsStaffOrReadOnly]

    looked_up: tuple[dict, str, str] | None = None  # (params, query, version) of a miss seen in dispatch

    def dispatch(self, request, *args, **kwargs):
        if request.method == "GET" and "HTTP_AUTHORIZATION" not in request.META:
            params, query = _list_query(request)
            version, hit = list_cache.product_list_cache_lookup(query=query)
            if hit is not None:
                body, headers = hit
                return _json(body, headers=headers)
            self.looked_up = (params, query, version)
        return super().dispatch(request, *args, **kwargs)

    @extend_schema(
        parameters=[OpenApiParameter(name, str) for name in LIST_FILTERS],
        summary="Active products (cached; filters, ordering, pagination in headers).",
        responses=s.ProductOutput(many=True),
    )
    def get(self, request):
        if self.looked_up:  # the same request, looked up in dispatch
            params, query, version = self.looked_up
        else:
            params, query = _list_query(request)
            version, hit = list_cache.product_list_cache_lookup(query=query)
            if hit is not None:
                body, headers = hit
                return _json(body, headers=headers)
        try:
            products = selectors.product_list(filters=params)
        except selectors.ProductFilterError as error:
            raise ValidationError({error.field: [error.message]}) from None
        body, headers = _product_page(request, products)
        list_cache.product_list_cache_set(query=query, version=version, value=(body, headers))
        return _json(body, headers=headers)

    @extend_schema(request=s.ProductInput, responses={201: s.ProductDetailOutput}, summary="Create a product (staff).")
    def post(self, request):
        data = s.ProductInput(data=request.data)
        data.is_valid(raise_exception=True)
        product = product_services.product_create(data=data.validated_data)
        return Response(s.product_detail_data(selectors.product_get(key=str(product.pk), user=request.user)),
                        status=status.HTTP_201_CREATED)


class ProductDetailView(APIView):
    permission_classes = [IsStaffOrReadOnly]

    @extend_schema(responses=s.ProductDetailOutput, summary="One product, by id or slug.")
    def get(self, request, key: str):
        return Response(s.product_detail_data(selectors.product_get(key=key, user=request.user)))

    def _update(self, request, key: str, *, partial: bool):
        product = selectors.product_get(key=key, user=request.user)
        data = s.ProductInput(data=request.data, partial=partial)
        data.is_valid(raise_exception=True)
        product = product_services.product_update(product=product, data=data.validated_data)
        return Response(s.product_detail_data(selectors.product_get(key=str(product.pk), user=request.user)))

    @extend_schema(request=s.ProductInput, responses=s.ProductDetailOutput, summary="Replace a product (staff).")
    def put(self, request, key: str):
        return self._update(request, key, partial=False)

    @extend_schema(request=s.ProductInput, responses=s.ProductDetailOutput, summary="Change some fields of a product (staff).")
    def patch(self, request, key: str):
        return self._update(request, key, partial=True)

    @extend_schema(responses={204: None}, summary="Delete a product (staff); one that was ever ordered is deactivated.")
    def delete(self, request, key: str):
        product_services.product_delete(product=selectors.product_get(key=key, user=request.user))
        return Response(status=status.HTTP_204_NO_CONTENT)


class CategoryListView(APIView):
    permission_classes = [permissions.AllowAny]

    @extend_schema(responses=s.CategoryOutput(many=True), summary="Product categories.")
    def get(self, request):
        return Response([s.category_data(category) for category in selectors.category_list()])


class OrderListView(APIView):
    @extend_schema(responses=s.OrderOutput(many=True), summary="Your orders, newest first.")
    def get(self, request):
        paginator = HeaderPagination()
        page = paginator.paginate_queryset(selectors.order_list_for_user(user=request.user), request, view=self)
        return paginator.get_paginated_response([s.order_data(order) for order in page])

    @extend_schema(request=s.OrderInput, responses={201: s.OrderOutput}, summary="Place an order: prices come from the catalog; stock is reserved.")
    def post(self, request):
        data = s.OrderInput(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        order = order_services.order_place(
            user=request.user,
            lines=[order_services.OrderLine(product_id=line["product_id"], quantity=line["quantity"]) for line in v["items"]],
            shipping_name=v.get("shipping_name", ""),
            shipping_address=v.get("shipping_address", ""),
        )
        return Response(s.order_data(selectors.order_get_for_user(user=request.user, order_id=order.pk)),
                        status=status.HTTP_201_CREATED)


class OrderDetailView(APIView):
    @extend_schema(responses=s.OrderOutput, summary="One of your orders.")
    def get(self, request, order_id):
        return Response(s.order_data(selectors.order_get_for_user(user=request.user, order_id=order_id)))


class OrderCancelView(APIView):
    @extend_schema(request=None, responses=s.OrderOutput, summary="Cancel your order while it awaits payment; its stock is returned.")
    def post(self, request, order_id):
        order = selectors.order_get_for_user(user=request.user, order_id=order_id)
        order_services.order_cancel_by_customer(order=order)
        return Response(s.order_data(selectors.order_get_for_user(user=request.user, order_id=order_id)))


class OrderStatusView(APIView):
    permission_classes = [IsStaff]

    @extend_schema(request=s.OrderStatusInput, responses=s.OrderOutput, summary="Move an order along its workflow (staff); 409 lists the allowed statuses.")
    def put(self, request, order_id):
        order = selectors.order_get_for_staff(order_id=order_id)
        data = s.OrderStatusInput(data=request.data)
        data.is_valid(raise_exception=True)
        order_services.order_transition(order_id=order.pk, to_status=data.validated_data["status"].strip().lower())
        return Response(s.order_data(selectors.order_get_for_staff(order_id=order_id)))

    patch = put
