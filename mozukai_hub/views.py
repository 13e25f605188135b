from django.shortcuts import render

from .api.errors import api_not_found, api_server_error


def _is_api(request) -> bool:
    return request.path.startswith("/api/")


def not_found(request, exception=None):
    if _is_api(request):
        return api_not_found(request)
    return render(request, "404.html", status=404)


def server_error(request):
    if _is_api(request):
        return api_server_error(request)
    return render(request, "500.html", status=500)
