from django.urls import path

from . import views

urlpatterns = [
    path("profile/", views.profile, name="profile"),
    path("profile/avatar/", views.my_avatar, name="profile-avatar"),
]
