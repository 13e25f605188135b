from mozukai_hub.api.routing import api_path

from . import payments, views

urlpatterns = [
    *api_path("products", views.ProductListView.as_view(), name="products"),
    *api_path("products/<str:key>", views.ProductDetailView.as_view(), name="product-detail"),
    *api_path("categories", views.CategoryListView.as_view(), name="categories"),
    *api_path("orders", views.OrderListView.as_view(), name="orders"),
    *api_path("orders/<uuid:order_id>", views.OrderDetailView.as_view(), name="order-detail"),
    *api_path("orders/<uuid:order_id>/cancel", views.OrderCancelView.as_view(), name="order-cancel"),
    *api_path("orders/<uuid:order_id>/status", views.OrderStatusView.as_view(), name="order-status"),
    *api_path("payments/create-intent", payments.CreateIntentView.as_view(), name="payments-create-intent"),
    *api_path("payments/confirm", payments.ConfirmView.as_view(), name="payments-confirm"),
    *api_path("payments/<str:payment_id>", payments.PaymentDetailView.as_view(), name="payment-detail"),
]
