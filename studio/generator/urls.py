"""Photo generator page routes, mounted at /generate/."""

from django.urls import path

from . import views

urlpatterns = [
    path("", views.generate_page, name="generate"),
]
