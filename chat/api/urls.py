from mozukai_hub.api.routing import api_path

from . import views

urlpatterns = [
    *api_path("sessions", views.SessionListView.as_view(), name="sessions"),
    *api_path("sessions/<uuid:session_id>", views.SessionDetailView.as_view(), name="session-detail"),
]
