"""The result cache: a ``CachingScorer`` around the served scorer, over a ``ResultStore``
(``ResultCache`` on disk with diskcache, or ``NullStore``), with single-flight; past one
machine, over ``SharedResults`` (``RedisResults``: every replica's answers and flight locks),
the local store serving whenever Redis cannot."""

from gateway.cache.disk import ResultCache, open_cache
from gateway.cache.flight import SingleFlight
from gateway.cache.keys import CacheKey
from gateway.cache.observer import CacheObserver, NullCacheObserver
from gateway.cache.redis_results import RedisResults
from gateway.cache.scorer import CachingScorer
from gateway.cache.shared import Claim, SharedResults
from gateway.cache.store import CacheStats, NullStore, ResultStore

__all__ = [
    "CacheKey",
    "CacheObserver",
    "CacheStats",
    "CachingScorer",
    "Claim",
    "NullCacheObserver",
    "NullStore",
    "RedisResults",
    "ResultCache",
    "ResultStore",
    "SharedResults",
    "SingleFlight",
    "open_cache",
]
