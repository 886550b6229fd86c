"""The rubric sets of a directory, kept in service and reloaded as their files change, and
``load_rubrics``: the same directory read once, strictly."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from stat import S_ISREG

from pydantic import BaseModel, ConfigDict

from gateway.errors import RubricInvalidError, RubricNotFoundError
from gateway.rubrics.loading import load_rubric_file
from gateway.rubrics.model import RubricSet

log = logging.getLogger("gateway")


class RubricInfo(BaseModel):
    name: str
    fingerprint: str
    path: str
    axes: dict[str, list[str]]
    rules: list[str]


class _Entry(BaseModel):
    model_config = ConfigDict(frozen=True)

    rubric: RubricSet
    path: Path


@dataclass(frozen=True)
class _Served:
    """What the store serves, replaced whole by a reload and never changed after: readers on
    any thread see one consistent version without taking the lock."""

    entries: dict[str, _Entry] = field(default_factory=dict)
    by_path: dict[Path, str] = field(default_factory=dict)
    errors: dict[str, list[str]] = field(default_factory=dict)


class RubricStore:
    """The rubric sets of one directory, reloaded when a file changes.

    A file that stops parsing keeps its last good version in service; its problems are kept
    in ``errors`` (and shown by ``GET /rubrics``) until it is fixed.

    ``refresh``, and so ``get`` and ``list`` once ``reload_interval_s`` has passed, read and
    parse changed files: call them from a worker thread, not the event loop. ``errors``,
    ``path_of`` and ``len()`` never parse or wait.
    """

    def __init__(self, directory: Path, reload_interval_s: float = 1.0) -> None:
        self.directory = directory
        self.reload_interval_s = reload_interval_s
        self._served = _Served()
        # (mtime, size) of every file as last read, good or bad, so unchanged files are skipped
        self._seen: dict[Path, tuple[int, int]] = {}
        self._checked_at = float("-inf")
        self._lock = threading.Lock()
        self.refresh(force=True)

    @property
    def errors(self) -> dict[str, list[str]]:
        """The problems of every file not (or no longer) loaded as it is now, by path."""
        return dict(self._served.errors)

    def _files(self) -> Iterator[Path]:
        if not self.directory.is_dir():
            return
        for pattern in ("*.yaml", "*.yml"):
            yield from sorted(self.directory.glob(pattern))

    def refresh(self, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._checked_at < self.reload_interval_s:
            return
        with self._lock:
            self._checked_at = now
            old = self._served
            new = _Served(dict(old.entries), dict(old.by_path), dict(old.errors))
            present: set[Path] = set()
            for path in self._files():
                present.add(path)
                try:
                    stat = path.stat()
                except OSError:
                    continue
                if self._seen.get(path) == (stat.st_mtime_ns, stat.st_size):
                    continue
                self._seen[path] = (stat.st_mtime_ns, stat.st_size)
                if not S_ISREG(stat.st_mode):  # opening a FIFO would block every reader
                    new.errors[str(path)] = [f"{path}:1: (file): not a regular file"]
                    continue
                self._load(path, new)
            for path in [p for p in self._seen if p not in present]:
                del self._seen[path]
                if path in new.by_path:
                    new.entries.pop(new.by_path.pop(path), None)
            for key in [k for k in new.errors if Path(k) not in present]:
                del new.errors[key]
            self._served = new

    def _load(self, path: Path, new: _Served) -> None:
        try:
            rubric = load_rubric_file(path)
        except RubricInvalidError as exc:
            # the last good version, if any, stays in service
            new.errors[str(path)] = exc.problems
            return
        except Exception as exc:
            # a bug, not the file's fault, but handled like a bad file: the last good version
            # stays in service and the file is reported, not skipped once its mtime was noted
            log.error("rubric file %s: %s while loading", path, type(exc).__name__, exc_info=exc)
            new.errors[str(path)] = [f"{path}:1: (file): cannot load: {type(exc).__name__}"]
            return
        other = new.entries.get(rubric.name)
        if other is not None and other.path != path:
            new.errors[str(path)] = [
                f"{path}:1: name: rubric name {rubric.name!r} already used by {other.path}"
            ]
            return
        old_name = new.by_path.get(path)
        if old_name and old_name != rubric.name:
            new.entries.pop(old_name, None)
        new.entries[rubric.name] = _Entry(rubric=rubric, path=path)
        new.by_path[path] = rubric.name
        new.errors.pop(str(path), None)

    def get(self, name: str) -> RubricSet:
        self.refresh()
        entries = self._served.entries
        entry = entries.get(name)
        if entry is None:
            raise RubricNotFoundError(
                f"unknown rubric set {name!r}; available: {sorted(entries) or 'none'}"
            )
        return entry.rubric

    def list(self) -> list[RubricInfo]:
        self.refresh()
        return [
            RubricInfo(
                name=name,
                fingerprint=entry.rubric.fingerprint,
                path=str(entry.path),
                axes={axis: spec.names for axis, spec in entry.rubric.axes.items()},
                rules=[rule.name for rule in entry.rubric.rules],
            )
            for name, entry in sorted(self._served.entries.items())
        ]

    def path_of(self, name: str) -> Path | None:
        """The file a rubric set was loaded from (calibrations live beside it)."""
        entry = self._served.entries.get(name)
        return entry.path if entry is not None else None

    def __len__(self) -> int:
        return len(self._served.entries)


def load_rubrics(directory: Path) -> dict[str, RubricSet]:
    """Every rubric set in a directory; raises on the first invalid file (use ``RubricStore`` to
    keep serving the good ones)."""
    store = RubricStore(directory)
    if store.errors:
        first = next(iter(store.errors.values()))
        raise RubricInvalidError(first[0], first)
    return {info.name: store.get(info.name) for info in store.list()}
