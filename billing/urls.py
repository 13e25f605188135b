from django.urls import path

from . import views

app_name = "billing"

urlpatterns = [
    path("", views.credits_page, name="credits"),
    path("buy/", views.buy_pack, name="buy"),
    path("success/", views.checkout_success, name="success"),
    path("cancel/", views.checkout_cancel, name="cancel"),
    path("dev-checkout/<uuid:payment_id>/", views.dev_checkout, name="dev-checkout"),
]
