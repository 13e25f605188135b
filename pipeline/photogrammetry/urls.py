"""Page routes at /pipeline/ (photogrammetry)."""

from django.urls import path

from . import views

urlpatterns = [
    path("", views.photogrammetry_page, name="photogrammetry"),
]
