from mozukai_hub.api.routing import api_path

from . import views

urlpatterns = [
    *api_path("jobs", views.JobListView.as_view(), name="jobs"),
    *api_path("jobs/<uuid:job_id>", views.JobDetailView.as_view(), name="job-detail"),
    *api_path("jobs/<uuid:job_id>/start", views.JobStartView.as_view(), name="job-start"),
    *api_path("jobs/<uuid:job_id>/complete", views.JobCompleteView.as_view(), name="job-complete"),
    *api_path("jobs/<uuid:job_id>/status", views.JobStatusView.as_view(), name="job-status"),
    *api_path("jobs/<uuid:job_id>/cancel", views.JobCancelView.as_view(), name="job-cancel"),
    *api_path("jobs/<uuid:job_id>/download-url", views.JobDownloadURLView.as_view(), name="job-download-url"),
    *api_path("jobs/<uuid:job_id>/valid-transitions", views.JobValidTransitionsView.as_view(), name="job-valid-transitions"),
    *api_path("jobs/<uuid:job_id>/events", views.JobEventsView.as_view(), name="job-events"),
    *api_path("assets", views.AssetListView.as_view(), name="assets"),
    *api_path("assets/upload", views.AssetUploadView.as_view(), name="asset-upload"),
    *api_path("assets/<uuid:asset_id>", views.AssetDetailView.as_view(), name="asset-detail"),
    *api_path("assets/<uuid:asset_id>/download-url", views.AssetDownloadURLView.as_view(), name="asset-download-url"),
    *api_path("asset-meta", views.AssetMetaListView.as_view(), name="asset-meta"),
    *api_path("asset-meta/<uuid:meta_id>", views.AssetMetaDetailView.as_view(), name="asset-meta-detail"),
    *api_path("downloads/<str:token>", views.DownloadView.as_view(), name="pipeline-download"),
]
