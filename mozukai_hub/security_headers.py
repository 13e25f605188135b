"""Content-Security-Policy and Permissions-Policy on every response, and the CSP report endpoint.

The policy allows what the pages use and nothing else:

* scripts: our own static files, Stripe.js (`js.stripe.com`), and inline scripts only with the
  per-request nonce (`nonce="{{ request.csp_nonce }}"`); no `unsafe-inline`, no `unsafe-eval`
  (`wasm-unsafe-eval` lets model-viewer compile its WebAssembly decoder, nothing else);
* styles: our own files, nonce'd `<style>` elements and model-viewer's fixed stylesheet (by hash);
  no `style=` attributes (ReDoc's page alone allows inline styles, see REDOC_STYLES);
* model-viewer: `blob:`/`data:` images, fetches and workers (textures unpacked from a GLB);
* the jobs websocket: `ws:`/`wss:` of this host only; Stripe: `api.stripe.com`, its frames, and
  Checkout as a form target (the credits form redirects there);
* no plugins, no framing (`frame-ancestors 'none'`), `base-uri 'self'`.

Violations are reported to `/csp-report` (`report-uri`, and `report-to` through a
`Reporting-Endpoints` header), which logs them. A view that needs a different policy says so
with `@csp_override(...)`; the global policy is never loosened for one page.
"""

import base64
import functools
import hashlib
import logging
import re
import secrets
from collections.abc import Callable
from functools import wraps
from pathlib import Path

from django.conf import settings
from django.contrib.staticfiles import finders
from django.core.cache import cache
from django.core.exceptions import DisallowedHost
from django.http import HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST
from rest_framework.exceptions import ParseError

from .api.fields import JSONInputError, json_loads_checked
from .client_ip import client_ip

logger = logging.getLogger("mozukai_hub.csp")

REPORT_PATH = "/csp-report"
REPORT_GROUP = "csp"
REPORT_MAX_BYTES = 64 * 1024
REPORTS_PER_MINUTE = 60
MODEL_VIEWER_BUNDLE = "vendor/model-viewer/model-viewer.min.js"
# ReDoc styles its page with styled-components, which writes generated <style> elements: its
# page (only) allows inline styles. Scripts stay nonce/'self'-only there too.
REDOC_STYLES = ["'self'", "'unsafe-inline'"]

STRIPE_SCRIPTS = ("https://js.stripe.com", "https://*.js.stripe.com")
STRIPE_FRAMES = ("https://js.stripe.com", "https://*.js.stripe.com", "https://hooks.stripe.com")

# Deny the powerful features no page uses; allow those a page or Stripe's frame may need.
PERMISSIONS_POLICY = ", ".join([
    "accelerometer=()", "autoplay=(self)", "camera=()", "display-capture=()",
    "fullscreen=(self)", "geolocation=()", "gyroscope=()", "hid=()", "magnetometer=()", "microphone=()",
    "midi=()", 'payment=(self "https://js.stripe.com")', "publickey-credentials-get=(self)", "serial=()",
    "usb=()", "xr-spatial-tracking=(self)",
])


@functools.cache
def _vendor_style_hashes() -> tuple[str, ...]:
    """CSP hashes of the fixed `<style>` blocks model-viewer's bundle puts in its shadow root.

    Hashes allow exactly those stylesheets (a new bundle brings new hashes with it), not inline
    styles in general. A missing bundle has none (the page has no viewer to style either).
    """
    path = finders.find(MODEL_VIEWER_BUNDLE)
    if not path:
        return ()
    text = Path(path).read_text(encoding="utf-8")
    return tuple(
        "'sha256-" + base64.b64encode(hashlib.sha256(block.encode()).digest()).decode() + "'"
        for block in re.findall(r"<style>(.*?)</style>", text, re.S)
    )


def _directives(request, nonce: str) -> dict[str, list[str]]:
    connect = ["'self'", "blob:", "data:", "https://api.stripe.com"]
    try:
        host = request.get_host()
    except DisallowedHost:
        host = None  # a refused Host header still gets a policy, only without the websocket origin
    if host:
        connect[1:1] = [f"ws://{host}", f"wss://{host}"]
    form_targets = ["'self'", "https://checkout.stripe.com"]
    if settings.GOOGLE_CLIENT_ID:
        form_targets.append("https://accounts.google.com")  # allauth's Google sign-in form redirects there
    return {
        "default-src": ["'self'"],
        # 'wasm-unsafe-eval' compiles WebAssembly only (model-viewer's mesh decoder); JS eval stays refused.
        "script-src": ["'self'", f"'nonce-{nonce}'", "'wasm-unsafe-eval'", *STRIPE_SCRIPTS],
        "style-src": ["'self'", f"'nonce-{nonce}'", *_vendor_style_hashes()],
        "img-src": ["'self'", "data:", "blob:", "https://*.stripe.com"],
        "font-src": ["'self'", "data:"],
        "connect-src": connect,
        "media-src": ["'self'", "blob:"],
        "worker-src": ["'self'", "blob:"],
        "frame-src": list(STRIPE_FRAMES),
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": form_targets,
        "frame-ancestors": ["'none'"],
        "report-uri": [REPORT_PATH],
        "report-to": [REPORT_GROUP],
    }


def csp_override(**directives: list[str] | tuple[str, ...]) -> Callable:
    """Replace whole directives of one view's policy: `@csp_override(style_src=["'self'", "'unsafe-inline'"])`."""
    replaced = {name.replace("_", "-"): list(sources) for name, sources in directives.items()}

    def decorate(view):
        @wraps(view)
        def wrapped(request, *args, **kwargs):
            response = view(request, *args, **kwargs)
            response.csp_override = replaced
            return response

        return wrapped

    return decorate


class SecurityHeadersMiddleware:
    """Gives each request a CSP nonce (`request.csp_nonce`) and each response both policies.

    A response that already carries a Content-Security-Policy (a download's sandbox) keeps it.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.csp_nonce = secrets.token_urlsafe(18)
        response = self.get_response(request)
        # DEBUG only: Django's technical error pages are built of inline scripts and styles.
        debug_page = settings.DEBUG and response.status_code >= 400 and "text/html" in response.get("Content-Type", "")
        if "Content-Security-Policy" not in response and not debug_page:
            directives = _directives(request, request.csp_nonce)
            directives.update(getattr(response, "csp_override", {}))
            response["Content-Security-Policy"] = "; ".join(f"{name} {' '.join(sources)}" for name, sources in directives.items())
            try:
                endpoint = request.build_absolute_uri(REPORT_PATH)
            except DisallowedHost:
                endpoint = None
            if endpoint:
                response["Reporting-Endpoints"] = f'{REPORT_GROUP}="{endpoint}"'
        response.setdefault("Permissions-Policy", PERMISSIONS_POLICY)
        return response


def _violations(payload) -> list[dict]:
    """Both report formats: `report-uri` ({"csp-report": {...}}) and Reporting API ([{"type", "body"}])."""
    if isinstance(payload, dict) and isinstance(payload.get("csp-report"), dict):
        return [payload["csp-report"]]
    if isinstance(payload, list):
        return [r["body"] for r in payload if isinstance(r, dict) and r.get("type") == "csp-violation" and isinstance(r.get("body"), dict)]
    return []


def _field(report: dict, *names: str) -> str:
    for name in names:
        if report.get(name):
            return str(report[name])[:300]
    return ""


@csrf_exempt
@require_POST
def csp_report(request):
    """Browsers post violation reports here (no credentials, no CSRF token); each is logged."""
    if len(request.body) > REPORT_MAX_BYTES:
        return JsonResponse({"error": {"code": "too_large", "message": "Report too large."}}, status=413)
    key = f"csp-report:{client_ip(request)}"
    cache.add(key, 0, 60)
    if cache.incr(key) > REPORTS_PER_MINUTE:
        return HttpResponse(status=429, headers={"Retry-After": "60"})
    try:
        # The API's checked loader: 64 KiB of `[` is a RecursionError for plain json.loads.
        payload = json_loads_checked(request.body or b"null")
    except (ParseError, JSONInputError):
        return JsonResponse({"error": {"code": "bad_request", "message": "A report is JSON."}}, status=400)
    for report in _violations(payload):
        logger.warning(
            "CSP violation: %s blocked %s on %s (%s:%s)",
            _field(report, "effective-directive", "effectiveDirective", "violated-directive"),
            _field(report, "blocked-uri", "blockedURL") or "inline",
            _field(report, "document-uri", "documentURL"),
            _field(report, "source-file", "sourceFile"), _field(report, "line-number", "lineNumber"),
        )
    return HttpResponse(status=204)
