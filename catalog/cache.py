"""The cached public product list.

Each cached page is stored with the *list version* it was computed under; any change to a
product, a category or stock replaces the version after commit, so the next request sees a
stale version, misses, and reads the database. One cache round trip per request: the version
and the page are fetched together.
"""

import hashlib
import uuid

from django.conf import settings
from django.core.cache import cache
from django.db import transaction

VERSION_KEY = "catalog:products:version"


def _page_key(query: str) -> str:
    return "catalog:products:page:" + hashlib.sha256(query.encode()).hexdigest()[:32]


def product_list_cache_lookup(*, query: str) -> tuple[str, object | None]:
    """(current version, cached value or None) in one round trip."""
    key = _page_key(query)
    found = cache.get_many([VERSION_KEY, key])
    version = found.get(VERSION_KEY)
    if version is None:
        cache.add(VERSION_KEY, uuid.uuid4().hex, None)
        return cache.get(VERSION_KEY), None
    entry = found.get(key)
    if entry is not None and entry[0] == version:
        return version, entry[1]
    return version, None


def product_list_cache_set(*, query: str, version: str, value) -> None:
    cache.set(_page_key(query), (version, value), settings.SHOP_PRODUCT_LIST_CACHE_SECONDS)


def product_list_cache_invalidate() -> None:
    """Drop every cached list page once the current transaction commits (at once outside one)."""
    transaction.on_commit(lambda: cache.set(VERSION_KEY, uuid.uuid4().hex, None))
