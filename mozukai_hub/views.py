from django.http import HttpResponseRedirect
from django.shortcuts import render
from django.templatetags.static import static
from django.views.decorators.cache import cache_control
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_safe

from .api.errors import api_not_found, api_server_error
from .api.seed_paths import is_api_path


def not_found(request, exception=None):
    if is_api_path(request.path_info):
        return api_not_found(request)
    return render(request, "404.html", status=404)


@csrf_exempt  # a POST to an unknown API path is a 404, not a CSRF failure page
def api_path_not_found(request, *args, **kwargs):
    """Routed for every /api/ path nothing else matches (see urls.py): the JSON 404 even with DEBUG on."""
    return api_not_found(request)


def server_error(request):
    if is_api_path(request.path_info):
        return api_server_error(request)
    return render(request, "500.html", status=500)


@require_safe
@cache_control(max_age=86400, public=True)
def favicon(request):
    """`/favicon.ico`, which browsers and feed readers ask for whatever the page links: the static icon.

    A temporary redirect: the static URL carries a content hash in production.
    """
    return HttpResponseRedirect(static("favicon.ico"))
