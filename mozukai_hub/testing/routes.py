"""The URLconf's routes as tests walk them: every route, and a path each one matches."""

import re

from django.urls import get_resolver

from mozukai_hub.api.seed_paths import url_routes

SAMPLE_VALUES = {"uuid": "0b6c4d7e-7f43-4b5c-9f36-1f7d5c1a8e2a", "int": "1", "slug": "sample", "str": "sample",
                 "path": "sample"}


def all_routes():
    """(route, URLPattern) for every route of the URLconf, e.g. `api/v1/jobs/<uuid:job_id>`."""
    return url_routes(get_resolver().url_patterns)


def route_example(route: str) -> str | None:
    """A path `route` matches, each `<converter:name>` filled with a sample of its type; None for
    a regular-expression route."""
    plain = route.replace("^", "").replace("$", "")
    if re.search(r"[()\[\]\\?*+|]", plain):
        return None
    return "/" + re.sub(r"<(?:(\w+):)?\w+>", lambda m: SAMPLE_VALUES[m.group(1) or "str"], plain)
