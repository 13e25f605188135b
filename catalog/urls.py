from django.urls import path, re_path

from . import files, views

app_name = "catalog"

urlpatterns = [
    path("", views.shop_home, name="home"),
    path("products/", views.product_list, name="product-list"),
    path("c/<slug:slug>/", views.category_detail, name="category"),
    path("p/<slug:slug>/", views.product_detail, name="product"),
    path("cart/", views.cart_detail, name="cart"),
    path("cart/add/", views.cart_add, name="cart-add"),
    path("cart/update/", views.cart_update, name="cart-update"),
    path("checkout/", views.checkout, name="checkout"),
    path("orders/", views.order_history, name="orders"),
    path("orders/<uuid:order_id>/", views.order_detail, name="order"),
    path("orders/<uuid:order_id>/pay/", views.order_pay, name="order-pay"),
    path("orders/<uuid:order_id>/cancel/", views.order_cancel, name="order-cancel"),
    re_path(r"^images/(?P<name>[0-9a-f]{32}\.png)$", files.product_image, name="image"),
    path("models/<int:product_id>.glb", files.product_model, name="product-model"),
]
