import logging
import time
from urllib.parse import parse_qsl, urlencode

from django.core import signals
from django.core.exceptions import PermissionDenied
from django.http import Http404, JsonResponse

from .api.errors import api_server_error, error_body, request_error
from .api.seed_paths import is_api_path

logger = logging.getLogger("mozukai_hub.requests")


# Query parameters that carry a credential (a websocket's `?token=`, a visitor's
# `?visitor_token=`, signed links): never written to the log.
SECRET_QUERY_PARAMS = frozenset({"token", "visitor_token", "access_token", "refresh_token", "signature"})


def loggable_path(request) -> str:
    """The request's path and query with credential values replaced by `***`."""
    path = request.path
    if (marker := "/downloads/") in path:  # a signed download link: its token is the credential
        path = path[: path.index(marker) + len(marker)] + "***"
    query = request.META.get("QUERY_STRING", "")
    if not query:
        return path
    pairs = [(key, "***" if key.lower() in SECRET_QUERY_PARAMS else value)
             for key, value in parse_qsl(query, keep_blank_values=True)]
    return f"{path}?{urlencode(pairs)}"


class RequestLogMiddleware:
    """One log line per request: method, path (credentials masked), status, duration."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        started = time.perf_counter()
        response = self.get_response(request)
        duration_ms = (time.perf_counter() - started) * 1000
        logger.info(
            "%s %s %s %.1fms",
            request.method,
            loggable_path(request),
            response.status_code,
            duration_ms,
        )
        return response


_ERROR_CODES = {400: "bad_request", 401: "not_authenticated", 403: "permission_denied", 404: "not_found",
                405: "method_not_allowed", 406: "not_acceptable", 413: "request_too_large",
                415: "unsupported_media_type", 429: "throttled"}
_KEPT_HEADERS = ("Allow", "Retry-After", "WWW-Authenticate", "Vary")


def _json_error(status: int, body: dict) -> JsonResponse:
    return JsonResponse(body, status=status)


class APIErrorMiddleware:
    """Under /api/ every failure is the API's JSON error shape, with DEBUG on or off.

    * An exception a view raises (DRF's handler did not map it) is logged with its traceback and
      answered as JSON here: 500 `server_error`, or what it means for a request Django refused
      (a body over DATA_UPLOAD_MAX_MEMORY_SIZE is a 413, a 404/403 stays one). Without this,
      DEBUG (`make run`) answers Django's HTML debug page.
    * Any other error response on the way out that is not JSON (an exception in a middleware,
      Django's CSRF page) is replaced by the JSON shape for its status.
    * A NUL character in the path or the query string is a 400 before any view: no database
      stores it in text, and PostgreSQL refuses a query that carries one.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if not is_api_path(request.path_info):
            return self.get_response(request)
        if "\x00" in request.path or any("\x00" in key or any("\x00" in value for value in values)
                                         for key, values in request.GET.lists()):
            return _json_error(400, error_body("bad_request", "The path or query string contains a NUL character."))
        response = self.get_response(request)
        if response.status_code >= 400 and not response.get("Content-Type", "").startswith("application/json"):
            replacement = _json_error(response.status_code, error_body(
                _ERROR_CODES.get(response.status_code, "server_error" if response.status_code >= 500 else "error"),
                response.reason_phrase or "Error."))
            for header in _KEPT_HEADERS:
                if header in response:
                    replacement[header] = response[header]
            replacement._has_been_logged = getattr(response, "_has_been_logged", False)
            response = replacement
        return response

    def process_exception(self, request, exception):
        if not is_api_path(request.path_info):
            return None
        refused = request_error(exception)
        if refused is not None:
            security_logger = logging.getLogger(f"django.security.{type(exception).__name__}")
            security_logger.warning("%s", exception)
            return _json_error(*refused)
        if isinstance(exception, Http404):
            return _json_error(404, error_body("not_found", "Not found."))
        if isinstance(exception, PermissionDenied):
            return _json_error(403, error_body("permission_denied", "You do not have permission to perform this action."))
        # What Django does for an uncaught exception, minus the HTML: tell listeners (the test
        # client re-raises from it), log the traceback once, answer the API's 500.
        signals.got_request_exception.send(sender=self.__class__, request=request)
        logging.getLogger("django.request").error("Internal Server Error: %s", request.path, exc_info=exception,
                                                  extra={"status_code": 500, "request": request})
        response = api_server_error(request)
        response._has_been_logged = True
        return response
