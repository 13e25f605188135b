"""DRF throttles keyed by the trusted client IP (never a raw X-Forwarded-For).

Rates are read from settings on every request rather than frozen at import, so they follow
`REST_FRAMEWORK` overrides and environment changes alike.
"""

from rest_framework import throttling
from rest_framework.settings import api_settings

from mozukai_hub.client_ip import client_ip


class _LiveRatesMixin:
    def get_rate(self):
        return api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)

    def get_ident(self, request):
        return client_ip(request) or "unknown"


class UserRateThrottle(_LiveRatesMixin, throttling.UserRateThrottle):
    """General API rate: per user when signed in, per client IP otherwise."""

    scope = "user"


class ScopedRateThrottle(_LiveRatesMixin, throttling.ScopedRateThrottle):
    """Per-view scopes (`throttle_scope = "auth"` / `"uploads"`), per user or client IP."""


class ClientIPScopedRateThrottle(_LiveRatesMixin, throttling.ScopedRateThrottle):
    """A scope counted per client IP even for signed-in callers (used for `auth`)."""

    def get_cache_key(self, request, view):
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}
