"""A test-only URLconf: the project's routes plus views that fail (test_hostile_input)."""

from django.urls import path
from rest_framework.permissions import AllowAny
from rest_framework.views import APIView

from mozukai_hub.urls import urlpatterns as project_urlpatterns


class RaisingAPIView(APIView):
    permission_classes = [AllowAny]

    def get(self, request):
        raise RuntimeError("an API view broke")


def raising_view(request):
    raise RuntimeError("a plain view broke")


urlpatterns = [
    path("api/v1/test-raises", RaisingAPIView.as_view()),
    path("api/v1/test-raises-plain", raising_view),
    path("test-raises-page", raising_view),
    *project_urlpatterns,
]
