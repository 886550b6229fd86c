"""The result cache: a ``CachingScorer`` around the served scorer, over a ``ResultStore``
(``ResultCache`` on disk with diskcache, or ``NullStore``), with single-flight."""

from gateway.cache.disk import ResultCache, open_cache
from gateway.cache.flight import SingleFlight
from gateway.cache.keys import CacheKey
from gateway.cache.observer import CacheObserver, NullCacheObserver
from gateway.cache.scorer import CachingScorer
from gateway.cache.store import CacheStats, NullStore, ResultStore

__all__ = [
    "CacheKey",
    "CacheObserver",
    "CacheStats",
    "CachingScorer",
    "NullCacheObserver",
    "NullStore",
    "ResultCache",
    "ResultStore",
    "SingleFlight",
    "open_cache",
]
