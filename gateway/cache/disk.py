"""Result cache on disk (diskcache), keyed by everything that can change a result.

Values are ``ScoreResult``s: label scores, model and usage, never ticket text. The key is a
sha256, so the redacted text itself is not stored either. Any cache failure degrades to a miss
with a warning: the cache must never turn a good request into a 500.

diskcache is SQLite in WAL mode plus files, so several uvicorn workers can share one directory.
Counts go to an injected ``CacheObserver`` (metrics); ``stats()`` reports this instance's.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import time
from pathlib import Path

import diskcache
from pydantic import ValidationError

from gateway.cache.observer import CacheObserver, CacheOp, NullCacheObserver
from gateway.cache.store import CacheStats
from gateway.config import CacheSettings
from gateway.scoring import ScoreResult

log = logging.getLogger(__name__)

_DB = "cache.db"  # diskcache's SQLite file name
_WARN_EVERY_S = 60.0  # a read-only disk fails every request: warn once a minute, not per request


class ResultCache:
    def __init__(
        self,
        directory: Path,
        ttl_s: float | None,
        size_limit: int,
        observer: CacheObserver | None = None,
    ) -> None:
        self.directory = directory
        self.ttl_s = ttl_s
        self.size_limit = size_limit
        self.observer = observer or NullCacheObserver()
        self.hits = 0
        self.misses = 0
        self.errors = 0
        self._warned: dict[CacheOp, float] = {}
        self._cache: diskcache.Cache | None = self._open()

    def _open(self) -> diskcache.Cache | None:
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            return diskcache.Cache(str(self.directory), **self._options())
        except sqlite3.DatabaseError as exc:
            # A corrupt database file: move it aside and start an empty cache.
            if self._quarantine(exc):
                try:
                    return diskcache.Cache(str(self.directory), **self._options())
                except Exception as again:
                    exc = again  # type: ignore[assignment]
            log.warning("result cache disabled (%s); serving without a cache", type(exc).__name__)
        except Exception as exc:  # unreadable, read-only, missing permissions: no cache
            log.warning("result cache disabled (%s); serving without a cache", type(exc).__name__)
        return None

    def _options(self) -> dict[str, object]:
        # No WAL and no mmap: SQLite maps the WAL index (-shm) and, by diskcache's default, the
        # database; when the disk turns read-only or fills up, a write to a mapped page is a
        # SIGBUS that kills the worker (seen in tests/cache/test_result_cache.py). Rollback-journal
        # mode turns the same faults into exceptions we can catch; it is still multi-process safe.
        # A short busy timeout: cache calls run on the event loop, a lock wait must not stall it.
        return {
            "size_limit": self.size_limit,
            "timeout": 1.0,
            "sqlite_journal_mode": "delete",
            "sqlite_mmap_size": 0,
        }

    def _quarantine(self, exc: Exception) -> bool:
        db = self.directory / _DB
        aside = db.with_name(f"{_DB}.corrupt-{os.getpid()}-{int(time.time())}")
        try:
            db.rename(aside)
        except FileNotFoundError:
            return True  # another worker already moved it aside
        except OSError:
            return False
        for suffix in ("-wal", "-shm"):
            db.with_name(_DB + suffix).unlink(missing_ok=True)
        log.warning(
            "result cache at %s was corrupt (%s); rebuilt empty", self.directory, type(exc).__name__
        )
        return True

    def _failed(self, op: CacheOp, exc: Exception) -> None:
        self.errors += 1
        self.observer.error(op)
        now = time.monotonic()
        if now - self._warned.get(op, -_WARN_EVERY_S) >= _WARN_EVERY_S:
            self._warned[op] = now
            log.warning(
                "result cache %s failed (%s); serving without the cache", op, type(exc).__name__
            )

    @property
    def enabled(self) -> bool:
        return self._cache is not None

    def _miss(self) -> None:
        self.misses += 1
        self.observer.miss()

    def get(self, key: str) -> ScoreResult | None:
        if self._cache is None:
            self._miss()
            return None
        try:
            stored = self._cache.get(key)
        except Exception as exc:
            self._failed("read", exc)
            self._miss()
            return None
        if not isinstance(stored, str):
            self._miss()
            return None
        try:
            result = ScoreResult.model_validate_json(stored)
        except ValidationError:  # an entry from an older schema: a miss, overwritten later
            self._miss()
            return None
        self.hits += 1
        self.observer.hit()
        return result

    def set(self, key: str, value: ScoreResult) -> None:
        if self._cache is None:
            return
        try:
            self._cache.set(key, value.model_dump_json(), expire=self.ttl_s)
        except Exception as exc:
            self._failed("write", exc)

    def stats(self) -> CacheStats:
        entries = volume = 0
        if self._cache is not None:
            try:
                entries = len(self._cache)
                volume = int(self._cache.volume())
            except Exception as exc:
                self._failed("stats", exc)
        return CacheStats(
            directory=str(self.directory),
            enabled=self.enabled,
            entries=entries,
            volume_bytes=volume,
            size_limit_bytes=self.size_limit,
            ttl_s=self.ttl_s,
            hits=self.hits,
            misses=self.misses,
            errors=self.errors,
        )

    def clear(self) -> int:
        """Remove every entry; returns how many were removed."""
        if self._cache is None:
            return 0
        return int(self._cache.clear())

    def close(self) -> None:
        if self._cache is not None:
            self._cache.close()


def open_cache(settings: CacheSettings, observer: CacheObserver | None = None) -> ResultCache:
    return ResultCache(settings.dir, settings.ttl_s, settings.size_limit_bytes, observer)
