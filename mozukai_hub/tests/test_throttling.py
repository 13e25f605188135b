"""API throttles: DRF's sliding window, kept in Redis by one atomic script (production), or by
DRF's own read-then-write on other caches; and the Redis cache backend underneath."""

import threading

import pytest
from django.contrib.auth.models import AnonymousUser
from django.core.cache import caches
from django.test import RequestFactory
from rest_framework.throttling import SimpleRateThrottle
from rest_framework.views import APIView

from mozukai_hub.api.throttling import ClientIPScopedRateThrottle, UserRateThrottle
from mozukai_hub.cache import RedisCache

LOCMEM = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "throttle-tests"}}


class _SignIn(APIView):
    throttle_scope = "auth"


def _rates(settings, **rates):
    rest = dict(settings.REST_FRAMEWORK)
    rest["DEFAULT_THROTTLE_RATES"] = {**rest["DEFAULT_THROTTLE_RATES"], **rates}
    settings.REST_FRAMEWORK = rest


def _anonymous_request(address="198.51.100.20"):
    request = RequestFactory().get("/api/v1/anything", REMOTE_ADDR=address)
    request.user = AnonymousUser()
    return request


def test_the_cache_is_redis_and_reuses_one_client():
    """Django's backend builds a Redis client per call; ours keeps one per connection pool."""
    cache = caches["default"]
    assert isinstance(cache, RedisCache)
    assert cache._cache.get_client() is cache._cache.get_client(write=True)
    cache.set("reused-client", {"a": 1})
    assert cache.get("reused-client") == {"a": 1}


@pytest.mark.parametrize("backend", ["redis", "locmem"])
def test_the_window_slides_as_drf_defines_it(settings, monkeypatch, backend):
    """Same answers and Retry-After on Redis (script) as DRF's own code on the local cache."""
    if backend == "locmem":
        settings.CACHES = LOCMEM
    _rates(settings, user="2/min")
    clock = {"now": 1_800_000_000.0}
    monkeypatch.setattr(SimpleRateThrottle, "timer", lambda self: clock["now"])
    request = _anonymous_request()

    def check(at: float):
        clock["now"] = 1_800_000_000.0 + at
        throttle = UserRateThrottle()
        return throttle.allow_request(request, APIView()), throttle

    assert check(0)[0] and check(10)[0]
    allowed, throttle = check(20)
    assert not allowed and throttle.wait() == pytest.approx(40)  # until the request at 0 leaves
    assert check(61)[0]  # the request at 0 has left the window
    allowed, throttle = check(65)
    assert not allowed and throttle.wait() == pytest.approx(5)
    other_client = _anonymous_request("198.51.100.21")
    assert UserRateThrottle().allow_request(other_client, APIView())


def test_concurrent_attempts_never_pass_the_limit(settings):
    """Fifty parallel sign-in attempts against 5/min: exactly five get through. (DRF's
    read-then-write lets every request that read the history before the others wrote pass.)"""
    _rates(settings, auth="5/min")
    request = RequestFactory().post("/api/v1/auth/login", REMOTE_ADDR="203.0.113.50")
    start = threading.Barrier(50)
    answers = []

    def attempt():
        start.wait()
        answers.append(ClientIPScopedRateThrottle().allow_request(request, _SignIn()))

    threads = [threading.Thread(target=attempt) for _ in range(50)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(answers) == [False] * 45 + [True] * 5


def test_one_ipv6_64_network_is_one_client(settings):
    """A subscriber routinely holds a whole IPv6 /64: its addresses share one throttle window
    (as they share free credits); another /64 has its own."""
    _rates(settings, auth="2/min")

    def allowed(address):
        return ClientIPScopedRateThrottle().allow_request(_anonymous_request(address), _SignIn())

    assert allowed("2001:db8:1:2::1") and allowed("2001:db8:1:2::ffff")
    assert not allowed("2001:db8:1:2:abcd::7")  # same /64, third attempt
    assert allowed("2001:db8:1:3::1")  # the next /64 is someone else
