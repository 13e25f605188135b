from django.shortcuts import render
from django.views.decorators.csrf import csrf_exempt

from .api.errors import api_not_found, api_server_error


def _is_api(request) -> bool:
    return request.path.startswith("/api/")


def not_found(request, exception=None):
    if _is_api(request):
        return api_not_found(request)
    return render(request, "404.html", status=404)


@csrf_exempt  # a POST to an unknown API path is a 404, not a CSRF failure page
def api_path_not_found(request, *args, **kwargs):
    """Routed for every /api/ path nothing else matches (see urls.py): the JSON 404 even with DEBUG on."""
    return api_not_found(request)


def server_error(request):
    if _is_api(request):
        return api_server_error(request)
    return render(request, "500.html", status=500)
