"""Every saved version of a rubric file, as files beside it: ``.history/<stem>/v0001.yaml`` with
a ``v0001.json`` sidecar (who, when, fingerprint). Not in the database: a rubric is a file that
people also edit by hand and keep in git; its history travels with it.

Writes are atomic (a temporary file in the same directory, then a rename), so the rubric
store never reads half a file. The store loads ``*.yaml`` of its directory only, so neither
``.history/`` nor the temporary files (``.<name>.tmp``) are ever served.
"""

from __future__ import annotations

import difflib
import os
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from pydantic import BaseModel

from gateway.errors import RubricNotFoundError
from gateway.rubrics import parse_rubric


class Version(BaseModel):
    number: int
    who: str
    at: datetime
    fingerprint: str
    note: str = ""


def write_atomically(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as file:
            file.write(text)
            file.flush()
            os.fsync(file.fileno())
        Path(tmp).replace(path)  # os.replace: atomic on one filesystem
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class RubricHistory:
    """The versions of one rubric file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.folder = path.parent / ".history" / path.stem

    def versions(self) -> list[Version]:
        """Oldest first."""
        if not self.folder.is_dir():
            return []
        found = [
            Version.model_validate_json(p.read_text(encoding="utf-8"))
            for p in sorted(self.folder.glob("v*.json"))
        ]
        return sorted(found, key=lambda v: v.number)

    def source(self, number: int) -> str:
        path = self.folder / f"v{number:04d}.yaml"
        if not path.is_file():
            raise RubricNotFoundError(f"version {number} of {self.path.name} does not exist")
        return path.read_text(encoding="utf-8")

    def _record(self, source: str, who: str, at: datetime, note: str) -> Version:
        self.folder.mkdir(parents=True, exist_ok=True)
        versions = self.versions()
        number = versions[-1].number + 1 if versions else 1
        fingerprint = parse_rubric(source, str(self.path), default_name=self.path.stem).fingerprint
        version = Version(number=number, who=who, at=at, fingerprint=fingerprint, note=note)
        write_atomically(self.folder / f"v{number:04d}.yaml", source)
        write_atomically(self.folder / f"v{number:04d}.json", version.model_dump_json(indent=1))
        return version

    def save(self, source: str, who: str, note: str = "") -> Version:
        """Write ``source`` (already checked) over the file and keep it as the next version.
        The file as it was before the first save through here is kept as version 1."""
        if not self.versions() and self.path.is_file():
            before = self.path.read_text(encoding="utf-8")
            stamp = datetime.fromtimestamp(self.path.stat().st_mtime, UTC)
            self._record(before, "(on disk before the first save)", stamp, "original")
        write_atomically(self.path, source)
        return self._record(source, who, datetime.now(UTC), note)

    def diff(self, number: int) -> list[str]:
        """Unified diff lines of a version against the one before it (empty for the first)."""
        older = [v.number for v in self.versions() if v.number < number]
        before = self.source(older[-1]).splitlines(keepends=True) if older else []
        after = self.source(number).splitlines(keepends=True)
        return list(
            difflib.unified_diff(
                before,
                after,
                fromfile=f"v{older[-1]}" if older else "(none)",
                tofile=f"v{number}",
            )
        )
