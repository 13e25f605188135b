"""Seed 004's photogrammetry routes under /api/v1/ (see pipeline.photogrammetry.api)."""

from mozukai_hub.api.routing import api_path

from . import api

urlpatterns = [
    *api_path("pipeline/preflight", api.PreflightView.as_view(), name="photogrammetry-preflight"),
    *api_path("pipeline/upload", api.UploadView.as_view(), name="photogrammetry-upload"),
    *api_path("pipeline/status/<uuid:job_id>", api.StatusView.as_view(), name="photogrammetry-status"),
    *api_path("pipeline/download/<uuid:job_id>", api.DownloadView.as_view(), name="photogrammetry-download"),
]
