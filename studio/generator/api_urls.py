"""Photo generator API routes (seed 002), mounted under /api/v1/."""

from mozukai_hub.api.routing import api_path

from . import api

urlpatterns = [
    *api_path("generate", api.GenerateView.as_view(), name="generate"),
    *api_path("generate/<uuid:job_id>", api.GenerateStatusView.as_view(), name="generate-status"),
]
