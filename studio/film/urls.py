"""Film pages, mounted at /studio/films/."""

from django.urls import path

from . import views

urlpatterns = [
    path("", views.film_list, name="studio-films"),
    path("voice-sample", views.voice_sample, name="studio-film-voice-sample"),
    path("<uuid:project_id>/", views.film_editor, name="studio-film"),
]
