from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView

from . import health, views

api_v1 = [
    path("health", health.health, name="api-health"),
    path("schema", SpectacularAPIView.as_view(), name="api-schema"),
    path("docs", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("redoc", SpectacularRedocView.as_view(url_name="api-schema"), name="api-redoc"),
    path("", include("accounts.api.urls")),
    path("", include("billing.api.urls")),
]

urlpatterns = [
    path("", views.home, name="home"),
    path("health", health.health, name="health"),
    path("api/health", health.health),
    path("api/v1/", include(api_v1)),
    path("docs", SpectacularSwaggerView.as_view(url_name="api-schema"), name="docs"),
    path("redoc", SpectacularRedocView.as_view(url_name="api-schema"), name="redoc"),
    path("admin/", admin.site.urls),
    path("accounts/", include("allauth.urls")),
    path("accounts/", include("accounts.urls")),
    path("credits/", include("billing.urls")),
]

handler404 = "mozukai_hub.views.not_found"
handler500 = "mozukai_hub.views.server_error"
