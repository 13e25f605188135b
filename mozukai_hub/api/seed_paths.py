"""The paths seeds 002 and 004 documented, outside /api/v1/.

The API lives under /api/v1/ (ARCHITECTURE.md), but two seeds document other prefixes: seed 002
(the photo generator) serves `/api/auth/…`, `/api/credits…` and `/api/generate…`, and seed 004
(the shop) serves `/auth/…`, `/users/me`, `/products…`, `/orders…`, `/payments/…` and
`/pipeline/…` at the root. Their clients call those paths, so the same views answer there too:
routed by name from the /api/v1/ routes (one definition of each endpoint), with both slash
spellings, and left out of the OpenAPI document, which describes each endpoint once, under
/api/v1/.
"""

import re

from django.urls import URLPattern, URLResolver, path
from django.urls.resolvers import RoutePattern

SEED_002_PREFIX = "api/"
SEED_002_ROUTES = (
    "auth-register", "auth-login", "auth-google", "auth-logout", "auth-me", "auth-google-config",
    "credits", "credits-consume", "credits-checkout", "generate", "generate-status",
)
SEED_004_PREFIX = ""
SEED_004_ROUTES = (
    "auth-register", "auth-login", "auth-refresh", "auth-logout", "users-me",
    "products", "product-detail", "orders", "order-detail", "order-status",
    "payments-create-intent", "payments-confirm", "payment-detail",
    "photogrammetry-upload", "photogrammetry-status", "photogrammetry-download",
)

# Root paths that are the API's (seed 004's), besides everything under /api/: their errors take
# the API's JSON shape too. A whole first segment each (`/products` and `/products/…`, not
# `/productsx`); `/pipeline/` itself is the photogrammetry page, so only its API paths.
ROOT_API_PREFIXES = ("/auth/", "/users/", "/products", "/orders", "/payments/",
                     "/pipeline/upload", "/pipeline/status/", "/pipeline/download/")

_ROOT_API_PATTERN = "^(?:" + "|".join(
    re.escape(prefix[1:]) + ("" if prefix.endswith("/") else "(?:/|$)") for prefix in ROOT_API_PREFIXES) + ")"


def is_api_path(path: str) -> bool:
    """Whether a request path (`path_info`) is the API's: its errors are JSON."""
    return path.startswith("/api/") or re.match(_ROOT_API_PATTERN, path[1:]) is not None


def url_routes(patterns, prefix: str = ""):
    """(route, URLPattern) for every URLPattern under `patterns`, includes followed."""
    for entry in patterns:
        if isinstance(entry, URLResolver):
            yield from url_routes(entry.url_patterns, prefix + str(entry.pattern))
        elif isinstance(entry, URLPattern):
            yield prefix + str(entry.pattern), entry


def seed_paths(api_v1_patterns, prefix: str, names) -> list[URLPattern]:
    """Routes at `prefix` for the /api/v1/ routes named `names`, with and without a trailing
    slash. A name that no longer exists (or names two routes) is an error at start-up, not a
    silent 404."""
    routes = list(url_routes(api_v1_patterns))
    by_name: dict[str, str] = {}
    for route, entry in routes:
        if entry.name:
            if entry.name in by_name:
                raise LookupError(f"Two /api/v1/ routes are named {entry.name}")
            by_name[entry.name] = route
    missing = [name for name in names if name not in by_name]
    if missing:
        raise LookupError(f"No /api/v1/ route named {', '.join(missing)}")
    wanted = {by_name[name].rstrip("/") for name in names}
    chosen = [(route, entry) for route, entry in routes if route.rstrip("/") in wanted]
    if not all(isinstance(entry.pattern, RoutePattern) for _, entry in chosen):
        raise TypeError("Seed paths are made from path() routes only")
    return [path(prefix + route, entry.callback, kwargs=entry.default_args) for route, entry in chosen]
