"""Studio pages (/studio/); films are at /studio/films/ (studio.film.urls)."""

from django.urls import path

from . import views

urlpatterns = [
    path("", views.studio_home, name="studio-home"),
    path("thumbnails/<uuid:project_id>/", views.thumbnail_editor, name="studio-thumbnail"),
]
