from mozukai_hub.api.routing import api_path

from . import views

urlpatterns = [
    *api_path("credits", views.CreditsView.as_view(), name="credits"),
    *api_path("credits/consume", views.CreditsConsumeView.as_view(), name="credits-consume"),
    *api_path("credits/checkout", views.CreditsCheckoutView.as_view(), name="credits-checkout"),
    *api_path("credits/checkout/<str:session_id>", views.CreditsCheckoutStatusView.as_view(), name="credits-checkout-status"),
    *api_path("credits/history", views.CreditsHistoryView.as_view(), name="credits-history"),
    *api_path("credits/packs", views.CreditPacksView.as_view(), name="credit-packs"),
    *api_path("credits/quote", views.CreditQuoteView.as_view(), name="credit-quote"),
    *api_path("stripe/webhook", views.StripeWebhookView.as_view(), name="stripe-webhook"),
]
