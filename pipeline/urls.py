from django.urls import path

from . import views

urlpatterns = [
    path("", views.job_list, name="pipeline-jobs"),
    path("<uuid:job_id>/", views.job_detail, name="pipeline-job-detail"),
    path("<uuid:job_id>/cancel/", views.job_cancel, name="pipeline-job-cancel"),
]
