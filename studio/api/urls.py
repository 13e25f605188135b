from mozukai_hub.api.routing import api_path

from . import views

urlpatterns = [
    *api_path("projects", views.ProjectListView.as_view(), name="projects"),
    *api_path("projects/presets", views.ProjectPresetsView.as_view(), name="project-presets"),
    *api_path("projects/<uuid:project_id>", views.ProjectDetailView.as_view(), name="project-detail"),
]
