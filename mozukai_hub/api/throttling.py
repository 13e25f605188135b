"""DRF throttles keyed by the trusted client IP (never a raw X-Forwarded-For).

Rates are read from settings on every request rather than frozen at import, so they follow
`REST_FRAMEWORK` overrides and environment changes alike.

On Redis (production) each check is one atomic script run: DRF's own sliding window (the
timestamps of the allowed requests of the last `duration` seconds, the same answers and the same
Retry-After) kept in a sorted set. DRF's default reads the pickled history and writes it back, two
round trips in which concurrent requests read the same history and all pass: of fifty parallel
sign-in attempts against a 5/min limit, far more than five got through. The script decides and
records in one step and one round trip. Other caches (the local-memory cache of `make run`)
keep DRF's read-then-write.
"""

import uuid

from rest_framework import throttling
from rest_framework.settings import api_settings

from mozukai_hub.client_ip import client_ip, client_ip_subject

# KEYS[1]: the history (a sorted set of request timestamps). ARGV: now, duration (s), limit,
# a unique member for this request. Returns {allowed 0/1, requests in the window, oldest one}.
_SLIDING_WINDOW = """
local now, duration, limit = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - duration)
local count = redis.call('ZCARD', KEYS[1])
if count >= limit then
    local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
    return {0, count, oldest[2] or ARGV[1]}
end
redis.call('ZADD', KEYS[1], now, ARGV[4])
redis.call('EXPIRE', KEYS[1], math.ceil(duration))
return {1, count + 1, ARGV[1]}
"""


class _AtomicSlidingWindow(throttling.SimpleRateThrottle):
    """SimpleRateThrottle's check and record as one Redis script run (see the module doc)."""

    def allow_request(self, request, view):
        redis_script = getattr(self.cache, "redis_script", None)  # mozukai_hub.cache.RedisCache
        if redis_script is None:
            return super().allow_request(request, view)
        if self.rate is None:
            return True
        self.key = self.get_cache_key(request, view)
        if self.key is None:
            return True
        self.now = self.timer()
        allowed, self.count, oldest = redis_script(_SLIDING_WINDOW)(
            # Not DRF's key: a history pickled by DRF's read-then-write is not a sorted set.
            keys=[self.cache.make_and_validate_key(f"window:{self.key}")],
            args=[repr(self.now), self.duration, self.num_requests, uuid.uuid4().hex],
        )
        self.oldest = float(oldest)
        return bool(allowed)

    def wait(self):
        if not hasattr(self, "oldest"):
            return super().wait()
        # DRF's formula with the window's length and oldest entry.
        available_requests = self.num_requests - self.count + 1
        if available_requests <= 0:
            return None
        return (self.duration - (self.now - self.oldest)) / available_requests


class _LiveRatesMixin:
    def get_rate(self):
        return api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)

    def get_ident(self, request):
        # Per subscriber, not per address: one IPv6 /64 is one client (as for free credits).
        ip = client_ip(request)
        return client_ip_subject(ip) if ip else "unknown"


# `_AtomicSlidingWindow` comes last so that it sits right above SimpleRateThrottle in the MRO:
# ScopedRateThrottle's scope lookup runs first and its `super().allow_request()` lands here.


class UserRateThrottle(_LiveRatesMixin, throttling.UserRateThrottle, _AtomicSlidingWindow):
    """General API rate: per user when signed in, per client IP otherwise."""

    scope = "user"


class ScopedRateThrottle(_LiveRatesMixin, throttling.ScopedRateThrottle, _AtomicSlidingWindow):
    """Per-view scopes (`throttle_scope = "auth"` / `"uploads"`), per user or client IP."""


class ClientIPScopedRateThrottle(_LiveRatesMixin, throttling.ScopedRateThrottle, _AtomicSlidingWindow):
    """A scope counted per client IP even for signed-in callers (used for `auth`)."""

    def get_cache_key(self, request, view):
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}
