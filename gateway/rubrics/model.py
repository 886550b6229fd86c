"""Rubric sets: YAML in, validated ``RubricSet`` out.

Every problem is reported as ``file:line: field: message``. PyYAML's node tree gives each key
and list item its line; pydantic's error locations are looked up in that map, so a product
manager editing a file sees where the mistake is, not a stack trace.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Annotated, Any, Literal, Self

import regex  # type: ignore[import-untyped, unused-ignore]
import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    StringConstraints,
    ValidationError,
    field_validator,
    model_validator,
)

from gateway.errors import LabelsInvalidError, RubricInvalidError, RubricNotFoundError

PRIMARY_AXIS = "category"

NonEmpty = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Thresholds(_Strict):
    auto_route: float = Field(0.85, ge=0, le=1)
    review: float = Field(0.60, ge=0, le=1)

    @model_validator(mode="after")
    def _ordered(self) -> Thresholds:
        if self.review > self.auto_route:
            raise ValueError("review threshold must not exceed auto_route")
        return self


class Label(_Strict):
    name: Name
    rubric: NonEmpty
    examples: tuple[NonEmpty, ...] = ()
    route: str | None = None


class Axis(_Strict):
    description: str | None = None
    multi_label: bool = False
    thresholds: Thresholds | None = None
    labels: tuple[Label, ...] = Field(min_length=2)

    @field_validator("labels")
    @classmethod
    def _unique_names(cls, labels: tuple[Label, ...]) -> tuple[Label, ...]:
        seen: set[str] = set()
        for label in labels:
            if label.name in seen:
                raise ValueError(f"duplicate label name {label.name!r}")
            seen.add(label.name)
        return labels

    @property
    def names(self) -> list[str]:
        return [label.name for label in self.labels]


class Match(_Strict):
    any: tuple[NonEmpty, ...] = ()
    all: tuple[NonEmpty, ...] = ()
    regex: bool = False

    @model_validator(mode="after")
    def _valid(self) -> Match:
        if not self.any and not self.all:
            raise ValueError("a match needs at least one pattern in 'any' or 'all'")
        if self.regex:
            for pattern in (*self.any, *self.all):
                try:
                    re.compile(pattern)
                except re.error as exc:
                    raise ValueError(f"invalid regex {pattern!r}: {exc}") from None
        return self


class Rule(_Strict):
    name: Name
    description: str | None = None
    match: Match
    action: Literal["escalate", "review", "flag"] = "flag"
    # axis -> label the rule forces when it fires
    force: dict[str, Name] = Field(default_factory=dict)


def _compilable(pattern: str) -> str:
    # checked at load, so a typo is reported with its file and line, not at the first ticket
    try:
        regex.compile(pattern)
    except regex.error as exc:
        raise ValueError(f"invalid regular expression: {exc}") from None
    return pattern


class RedactionOverrides(_Strict):
    """Per-rubric additions to the deployment's redaction policy."""

    allow: tuple[NonEmpty, ...] = ()
    allow_patterns: tuple[Annotated[NonEmpty, AfterValidator(_compilable)], ...] = ()


class RubricSet(_Strict):
    name: Name
    description: str | None = None
    thresholds: Thresholds = Thresholds()
    axes: dict[Name, Axis] = Field(default_factory=dict)
    # Shorthand: a top-level label list is one axis named "category".
    labels: tuple[Label, ...] | None = Field(default=None, exclude=True)
    rules: tuple[Rule, ...] = ()
    redaction: RedactionOverrides = RedactionOverrides()
    # Hashes of this (frozen) content, worked out once: a request asks for them several times.
    _digests: dict[tuple[str, ...] | None, str] = PrivateAttr(default_factory=dict)

    @model_validator(mode="after")
    def _resolve(self) -> RubricSet:
        if self.labels is not None:
            if self.axes:
                raise ValueError("give either 'labels' (one category axis) or 'axes', not both")
            axis = Axis(labels=self.labels)
            object.__setattr__(self, "axes", {PRIMARY_AXIS: axis})
            object.__setattr__(self, "labels", None)
        if not self.axes:
            raise ValueError("a rubric set needs 'axes' or a top-level 'labels' list")
        names = [rule.name for rule in self.rules]
        if len(names) != len(set(names)):
            raise ValueError("rule names must be unique")
        for rule in self.rules:
            for axis_name, label in rule.force.items():
                if axis_name not in self.axes:
                    raise ValueError(f"rule {rule.name!r} forces unknown axis {axis_name!r}")
                if label not in self.axes[axis_name].names:
                    raise ValueError(
                        f"rule {rule.name!r} forces unknown label {label!r} on axis {axis_name!r}"
                    )
        return self

    @property
    def primary_axis(self) -> str:
        return PRIMARY_AXIS if PRIMARY_AXIS in self.axes else next(iter(self.axes))

    def thresholds_for(self, axis: str) -> Thresholds:
        return self.axes[axis].thresholds or self.thresholds

    def select_axes(self, wanted: Sequence[str] | None) -> list[str]:
        """The axes to answer, in rubric order; unknown names are a client error."""
        if not wanted:
            return list(self.axes)
        unknown = [name for name in wanted if name not in self.axes]
        if unknown:
            raise LabelsInvalidError(
                f"unknown axis {unknown[0]!r} for rubric {self.name!r}; has {sorted(self.axes)}"
            )
        return [name for name in self.axes if name in wanted]

    @property
    def fingerprint(self) -> str:
        """Hash of the parsed content: formatting edits keep it, meaning changes do not."""
        digest = self._digests.get(None)
        if digest is None:
            digest = self._digests[None] = _digest(self.model_dump(mode="json"))
        return digest

    def axis_fingerprint(self, axes: Iterable[str]) -> str:
        """Hash of just the axes asked (and what affects them), for cache keys."""
        chosen = tuple(sorted(axes))
        digest = self._digests.get(chosen)
        if digest is None:
            digest = self._digests[chosen] = _digest(
                {
                    "axes": {name: self.axes[name].model_dump(mode="json") for name in chosen},
                    "rules": [rule.model_dump(mode="json") for rule in self.rules],
                    "thresholds": self.thresholds.model_dump(mode="json"),
                }
            )
        return digest

    def model_copy(self, *, update: Mapping[str, Any] | None = None, deep: bool = False) -> Self:
        copy = super().model_copy(update=update, deep=deep)
        copy._digests = {}  # the copy's content may differ
        return copy

    @classmethod
    def inline(cls, labels: Sequence[Label], thresholds: Thresholds | None = None) -> RubricSet:
        """The ScaleDown request form: inline labels become a one-axis set named ``inline``."""
        try:
            return cls(
                name="inline",
                axes={PRIMARY_AXIS: Axis(labels=tuple(labels))},
                thresholds=thresholds or Thresholds(),
            )
        except ValidationError as exc:
            raise LabelsInvalidError(_plain_errors(exc, prefix="labels")) from None


def _digest(payload: object) -> str:
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _plain_errors(exc: ValidationError, prefix: str) -> str:
    parts = []
    for err in exc.errors(include_input=False, include_url=False):
        where = ".".join(str(p) for p in (prefix, *err["loc"]) if p != "axes")
        parts.append(f"{where}: {err['msg']}")
    return "; ".join(parts)


# --------------------------------------------------------------------------- YAML loading

Loc = tuple[str | int, ...]


class _LineMap:
    """Line (1-based) of every key and list item in a YAML document, by path."""

    def __init__(self, root: yaml.Node | None) -> None:
        self.lines: dict[Loc, int] = {}
        self.duplicates: list[tuple[Loc, int]] = []
        if root is not None:
            self.lines[()] = root.start_mark.line + 1
            self._walk(root, ())

    def _walk(self, node: yaml.Node, path: Loc) -> None:
        if isinstance(node, yaml.MappingNode):
            seen: set[str] = set()
            for key_node, value_node in node.value:
                key = str(key_node.value)
                here = (*path, key)
                if key in seen:
                    self.duplicates.append((here, key_node.start_mark.line + 1))
                seen.add(key)
                self.lines[here] = key_node.start_mark.line + 1
                self._walk(value_node, here)
        elif isinstance(node, yaml.SequenceNode):
            for index, item in enumerate(node.value):
                here = (*path, index)
                self.lines[here] = item.start_mark.line + 1
                self._walk(item, here)

    def line_of(self, loc: Loc) -> int:
        for end in range(len(loc), -1, -1):
            if loc[:end] in self.lines:
                return self.lines[loc[:end]]
        return 1


def _field(loc: Loc) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "(top level)"


def parse_rubric(source: str, filename: str, default_name: str | None = None) -> RubricSet:
    """Parse and validate one rubric document.

    Raises ``RubricInvalidError`` listing every problem, each as ``file:line: field: message``.
    """
    try:
        root = yaml.compose(source, Loader=yaml.SafeLoader)
        data = yaml.safe_load(source)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else 1
        problem = f"{filename}:{line}: (yaml): {exc.problem or exc}"
        raise RubricInvalidError(problem) from None
    except yaml.YAMLError as exc:
        raise RubricInvalidError(f"{filename}:1: (yaml): {exc}") from None

    lines = _LineMap(root)
    problems = [
        f"{filename}:{line}: {_field(loc)}: duplicate key" for loc, line in lines.duplicates
    ]
    if not isinstance(data, dict):
        problems.append(f"{filename}:1: (top level): expected a mapping with 'name' and 'axes'")
        raise RubricInvalidError(problems[0], problems)
    if default_name is not None:
        data.setdefault("name", default_name)
    try:
        rubric = RubricSet.model_validate(data)
    except ValidationError as exc:
        errors = exc.errors(include_input=False, include_url=False)
        failed = [tuple(e["loc"]) for e in errors]
        for err in errors:
            loc: Loc = tuple(err["loc"])
            # "too few items" after an item failed is a consequence, not a second problem
            if err["type"] == "too_short" and any(f[: len(loc)] == loc != f for f in failed):
                continue
            msg = err["msg"].removeprefix("Value error, ")
            problems.append(f"{filename}:{lines.line_of(loc)}: {_field(loc)}: {msg}")
        raise RubricInvalidError(problems[0], problems) from None
    if problems:
        raise RubricInvalidError(problems[0], problems)
    return rubric


def load_rubric_file(path: Path) -> RubricSet:
    try:
        source = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise RubricInvalidError(f"{path}:1: (file): cannot read: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise RubricInvalidError(f"{path}:1: (file): not UTF-8 text") from None
    return parse_rubric(source, str(path), default_name=path.stem)


def load_rubrics(directory: Path) -> dict[str, RubricSet]:
    """Every rubric set in a directory; raises on the first invalid file (use ``RubricStore`` to
    keep serving the good ones)."""
    store = RubricStore(directory)
    if store.errors:
        first = next(iter(store.errors.values()))
        raise RubricInvalidError(first[0], first)
    return {info.name: store.get(info.name) for info in store.list()}


# --------------------------------------------------------------------------- store with reload


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


class RubricStore:
    """The rubric sets of one directory, reloaded when a file changes.

    A file that stops parsing keeps its last good version in service; its problems are kept
    in ``errors`` (and shown by ``GET /rubrics``) until it is fixed.
    """

    def __init__(self, directory: Path, reload_interval_s: float = 1.0) -> None:
        self.directory = directory
        self.reload_interval_s = reload_interval_s
        self.errors: dict[str, list[str]] = {}
        self._entries: dict[str, _Entry] = {}
        self._by_path: dict[Path, str] = {}
        # (mtime, size) of every file as last read, good or bad, so unchanged files are skipped
        self._seen: dict[Path, tuple[int, int]] = {}
        self._checked_at = float("-inf")
        self._lock = threading.Lock()
        self.refresh(force=True)

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
                self._load(path)
            for path in [p for p in self._seen if p not in present]:
                del self._seen[path]
                if path in self._by_path:
                    self._entries.pop(self._by_path.pop(path), None)
            for key in [k for k in self.errors if Path(k) not in present]:
                del self.errors[key]

    def _load(self, path: Path) -> None:
        try:
            rubric = load_rubric_file(path)
        except RubricInvalidError as exc:
            # the last good version, if any, stays in service
            self.errors[str(path)] = exc.problems
            return
        other = self._entries.get(rubric.name)
        if other is not None and other.path != path:
            self.errors[str(path)] = [
                f"{path}:1: name: rubric name {rubric.name!r} already used by {other.path}"
            ]
            return
        old_name = self._by_path.get(path)
        if old_name and old_name != rubric.name:
            self._entries.pop(old_name, None)
        self._entries[rubric.name] = _Entry(rubric=rubric, path=path)
        self._by_path[path] = rubric.name
        self.errors.pop(str(path), None)

    def get(self, name: str) -> RubricSet:
        self.refresh()
        entry = self._entries.get(name)
        if entry is None:
            raise RubricNotFoundError(
                f"unknown rubric set {name!r}; available: {sorted(self._entries) or 'none'}"
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
            for name, entry in sorted(self._entries.items())
        ]

    def path_of(self, name: str) -> Path | None:
        """The file a rubric set was loaded from (calibrations live beside it)."""
        entry = self._entries.get(name)
        return entry.path if entry is not None else None

    def __len__(self) -> int:
        return len(self._entries)
