from django.contrib import admin
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerSplitView

from catalog import views as shop_views

from . import health, security_headers, views
from .api.seed_paths import SEED_002_PREFIX, SEED_002_ROUTES, SEED_004_PREFIX, SEED_004_ROUTES, seed_paths

redoc_view = security_headers.csp_override(style_src=security_headers.REDOC_STYLES)(
    SpectacularRedocView.as_view(url_name="api-schema")
)

api_v1 = [
    path("health", health.health, name="api-health"),
    path("schema", SpectacularAPIView.as_view(), name="api-schema"),
    # The split view serves Swagger UI's set-up script from its own URL: no inline script.
    path("docs", SpectacularSwaggerSplitView.as_view(url_name="api-schema"), name="api-docs"),
    path("redoc", redoc_view, name="api-redoc"),
    path("", include("accounts.api.urls")),
    path("", include("chat.api.urls")),
    path("", include("pipeline.api.urls")),
    path("", include("billing.api.urls")),
    path("", include("catalog.api.urls")),
    path("", include("studio.api.urls")),
    path("", include("studio.generator.api_urls")),
    path("", include("pipeline.photogrammetry.api_urls")),
]

urlpatterns = [
    # The shop is the front page (issue 5); it links on to the studio, pipeline and account pages.
    path("", shop_views.shop_home, name="home"),
    path("health", health.health, name="health"),
    path("favicon.ico", views.favicon, name="favicon"),
    path("csp-report", security_headers.csp_report, name="csp-report"),
    path("api/health", health.health),
    path("api/v1/", include(api_v1)),
    path("docs", SpectacularSwaggerSplitView.as_view(url_name="api-schema"), name="docs"),
    path("redoc", redoc_view, name="redoc"),
    path("admin/", admin.site.urls),
    path("accounts/", include("allauth.urls")),
    path("accounts/", include("accounts.urls")),
    path("jobs/", include("pipeline.urls")),
    path("credits/", include("billing.urls")),
    path("shop/", include("catalog.urls")),
    # Issue 11/12: the studio (thumbnails, films) and the photo generator; 13: the design chat;
    # 14: photogrammetry. Each app's pages live in its own urls module.
    path("studio/films/", include("studio.film.urls")),
    path("studio/", include("studio.urls")),
    path("generate/", include("studio.generator.urls")),
    path("c/", include("chat.urls")),
    path("pipeline/", include("pipeline.photogrammetry.urls")),
    # Seed 002's `/api/…` and seed 004's root paths: the same views (mozukai_hub/api/seed_paths.py),
    # after every page, so no page route can be shadowed by them.
    *seed_paths(api_v1, SEED_002_PREFIX, SEED_002_ROUTES),
    *seed_paths(api_v1, SEED_004_PREFIX, SEED_004_ROUTES),
    # Last: any other /api/ path is the API's JSON 404 (so is an unknown seed 004 root API path:
    # APIErrorMiddleware answers every error on the API's paths as JSON). `handler404`
    # gives the same answer only with DEBUG off; with DEBUG on (`make run`) Django would answer
    # its HTML debug page, and an SPA developer would get HTML from a JSON API.
    re_path(r"^api/", views.api_path_not_found),
]

handler404 = "mozukai_hub.views.not_found"
handler500 = "mozukai_hub.views.server_error"
