"""Django's Redis cache backend, keeping one Redis client per connection pool.

Django's `RedisCacheClient.get_client()` builds a new `redis.Redis` for every cache call. With
redis-py 8 building one fills its response-callback tables (~170 entries): about 0.1 ms of CPU,
as much as the round trip to Redis it is made for, and a cache miss of the product list made
four cache calls. A `redis.Redis` over a connection pool holds no connection of its own and is
safe to share between threads (the pool hands out connections and checks the process id after a
fork), so one client per pool is kept and reused.

`redis_script()` runs Lua on that client for what the cache API has no word for (the throttles'
atomic sliding window, `mozukai_hub.api.throttling`).
"""

from __future__ import annotations

from django.core.cache.backends import redis as django_redis


class _SharedClientRedisCacheClient(django_redis.RedisCacheClient):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._clients: dict[int, object] = {}

    def get_client(self, key=None, *, write=False):
        index = self._get_connection_pool_index(write)
        client = self._clients.get(index)
        if client is None:
            if index not in self._pools:
                self._pools[index] = self._pool_class.from_url(self._servers[index], **self._pool_options)
            client = self._clients[index] = self._client(connection_pool=self._pools[index])
        return client


class RedisCache(django_redis.RedisCache):
    """`django.core.cache.backends.redis.RedisCache`, without a new client per call."""

    def __init__(self, server, params):
        super().__init__(server, params)
        self._class = _SharedClientRedisCacheClient
        self._scripts = {}

    def redis_script(self, source: str):
        """`source` as a `redis` Script on the primary server: EVALSHA, loaded on first use."""
        script = self._scripts.get(source)
        if script is None:
            script = self._scripts[source] = self._cache.get_client(write=True).register_script(source)
        return script
