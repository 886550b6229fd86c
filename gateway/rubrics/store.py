"""The rubric sets of a directory, kept in service and reloaded as their files change, and
``load_rubrics``: the same directory read once, strictly."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from stat import S_ISREG

from pydantic import BaseModel, ConfigDict

from gateway.errors import RubricInvalidError, RubricNotFoundError
from gateway.rubrics.loading import load_rubric_file
from gateway.rubrics.model import RubricSet
from gateway.rubrics.names import duplicate_name_problem, rubric_files

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
class _File:
    """One file as last read: its last good version (kept while a later edit is broken) and the
    problems of the file as it is now (none when it parses)."""

    stamp: tuple[int, int]  # (mtime, size): an unchanged file is not read again
    rubric: RubricSet | None
    problems: tuple[str, ...] = ()


@dataclass(frozen=True)
class _Served:
    """What the store serves, replaced whole by a reload and never changed after: readers on
    any thread see one consistent version without taking the lock."""

    entries: dict[str, _Entry] = field(default_factory=dict)
    by_path: dict[Path, str] = field(default_factory=dict)
    errors: dict[str, list[str]] = field(default_factory=dict)
    # names that several files claim and none serves: name -> the files
    conflicts: dict[str, list[Path]] = field(default_factory=dict)


class RubricStore:
    """The rubric sets of one directory (or of the ``files`` given), reloaded when a file
    changes.

    A file that stops parsing keeps its last good version in service; its problems are kept
    in ``errors`` (and shown by ``GET /rubrics``) until it is fixed. Two files with one
    ``name:`` are refused, each with an error naming the other: at start-up neither is served
    (which one would depend on the order of the listing); a file that takes the name of one
    already in service is refused and the one in service stays.

    ``refresh``, and so ``get`` and ``list`` once ``reload_interval_s`` has passed, read and
    parse changed files: call them from a worker thread, not the event loop. ``errors``,
    ``path_of`` and ``len()`` never parse or wait.
    """

    def __init__(
        self,
        directory: Path,
        reload_interval_s: float = 1.0,
        *,
        files: Sequence[Path] | None = None,
    ) -> None:
        self.directory = directory
        self.files = tuple(files) if files is not None else None
        self.reload_interval_s = reload_interval_s
        self._served = _Served()
        self._seen: dict[Path, _File] = {}
        self._checked_at = float("-inf")
        self._lock = threading.Lock()
        self.refresh(force=True)

    @property
    def errors(self) -> dict[str, list[str]]:
        """The problems of every file not (or no longer) loaded as it is now, by path."""
        return dict(self._served.errors)

    def _files(self) -> list[Path]:
        if self.files is not None:
            return [p for p in self.files if p.exists()]
        return rubric_files(self.directory)

    def refresh(self, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._checked_at < self.reload_interval_s:
            return
        with self._lock:
            self._checked_at = now
            present = self._files()
            changed = False
            for path in present:
                try:
                    stat = path.stat()
                except OSError:
                    continue
                stamp = (stat.st_mtime_ns, stat.st_size)
                before = self._seen.get(path)
                if before is not None and before.stamp == stamp:
                    continue
                changed = True
                last_good = before.rubric if before is not None else None
                if not S_ISREG(stat.st_mode):  # opening a FIFO would block every reader
                    problems = (f"{path}:1: (file): not a regular file",)
                    self._seen[path] = _File(stamp, last_good, problems)
                    continue
                self._seen[path] = self._read(path, stamp, last_good)
            for path in [p for p in self._seen if p not in present]:
                del self._seen[path]
                changed = True
            if changed:
                self._served = self._resolve(self._served)

    @staticmethod
    def _read(path: Path, stamp: tuple[int, int], last_good: RubricSet | None) -> _File:
        try:
            return _File(stamp, load_rubric_file(path))
        except RubricInvalidError as exc:
            # the last good version, if any, stays in service
            return _File(stamp, last_good, tuple(exc.problems))
        except Exception as exc:
            # a bug, not the file's fault, but handled like a bad file: the last good version
            # stays in service and the file is reported, not skipped once its mtime was noted
            log.error("rubric file %s: %s while loading", path, type(exc).__name__, exc_info=exc)
            problem = f"{path}:1: (file): cannot load: {type(exc).__name__}"
            return _File(stamp, last_good, (problem,))

    def _resolve(self, before: _Served) -> _Served:
        """Which file serves each name: the one file that claims it, or, where several do, the
        one already in service (if any); every other claimant is an error naming the rest."""
        new = _Served()
        claims: dict[str, list[Path]] = {}
        for path, seen in self._seen.items():
            if seen.problems:
                new.errors[str(path)] = list(seen.problems)
            if seen.rubric is not None:
                claims.setdefault(seen.rubric.name, []).append(path)
        for name, paths in claims.items():
            previous = before.entries.get(name)
            served = (
                paths[0]
                if len(paths) == 1
                else previous.path
                if previous is not None and previous.path in paths
                else None
            )
            if len(paths) > 1:
                for path in paths:
                    if path != served:
                        others = [p for p in paths if p != path]
                        problem = duplicate_name_problem(path, name, others, served)
                        new.errors.setdefault(str(path), []).append(problem)
                if served is None:
                    new.conflicts[name] = sorted(paths)
            if served is not None:
                rubric = self._seen[served].rubric
                assert rubric is not None
                new.entries[name] = _Entry(rubric=rubric, path=served)
                new.by_path[served] = name
        return new

    def get(self, name: str) -> RubricSet:
        self.refresh()
        served = self._served
        entry = served.entries.get(name)
        if entry is None:
            if name in served.conflicts:
                # file names only: this message may reach an HTTP caller (no server paths)
                files = " and ".join(p.name for p in served.conflicts[name])
                raise RubricNotFoundError(
                    f"rubric set {name!r} is not served: {files} both use that name; "
                    "give each file its own name"
                )
            raise RubricNotFoundError(
                f"unknown rubric set {name!r}; available: {sorted(served.entries) or 'none'}"
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
