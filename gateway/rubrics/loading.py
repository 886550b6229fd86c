"""Rubric sets: YAML in, validated ``RubricSet`` out.

Every problem is reported as ``file:line: field: message``. PyYAML's node tree gives each key
and list item its line; pydantic's error locations are looked up in that map, so a product
manager editing a file sees where the mistake is, not a stack trace.

Hostile files are refused, not expanded: aliases are shared nodes in the YAML tree but every walk
after it (line map, validation) sees them expanded, so a 400-byte alias bomb becomes millions of
nodes and a self-referencing alias an infinite tree. ``_BoundedLoader`` counts each alias as the
nodes it stands for and refuses the document past the budgets below, while it is being composed.
"""

from __future__ import annotations

from pathlib import Path
from typing import cast

import yaml
from pydantic import ValidationError
from yaml.composer import ComposerError

from gateway.errors import GatewayError, RubricInvalidError
from gateway.rubrics.fields import Loc
from gateway.rubrics.model import RubricSet
from gateway.rubrics.rule_model import RuleProblemsError

# Budgets, each far above any real rubric (the bundled support.yaml: 6 KB, 257 nodes, depth 7, no
# aliases). Pure-Python PyYAML scans 0.3-0.6 MB/s, so the size bounds a parse to ~3 s of a worker
# thread; the node budget bounds what aliases add to the walks after it (~0.1 s at the limit).
MAX_RUBRIC_BYTES = 1 << 20
MAX_NODES = 50_000  # counting every alias as the nodes it stands for
MAX_ALIASES = 100
MAX_DEPTH = 32  # nested collections; keeps the recursive composer and walks off RecursionError


class _BoundedLoader(yaml.SafeLoader):
    """``SafeLoader`` that refuses recursive aliases and documents over the budgets above, with
    the line where the budget ran out (a ``ComposerError``, reported like any YAML error)."""

    def __init__(self, source: str) -> None:
        super().__init__(source)
        self._sizes: dict[yaml.Node, int] = {}  # expanded size of every finished node
        self._nodes = 0
        self._aliases = 0
        self._depth = 0

    def compose_node(self, parent: yaml.Node | None, index: int) -> yaml.Node | None:
        event: yaml.Event = self.peek_event()  # type: ignore[no-untyped-call]  # stubs lack it
        mark = cast(yaml.Mark, event.start_mark)  # the pure-Python parser's, never None
        if isinstance(event, yaml.AliasEvent):
            target = self.anchors.get(event.anchor)
            if target is not None:  # an undefined alias is PyYAML's own error
                # a collection's anchor is registered before its items: unfinished = an ancestor
                if target not in self._sizes:
                    raise _refused(mark, f"alias *{event.anchor} refers to itself")
                self._aliases += 1
                if self._aliases > MAX_ALIASES:
                    raise _refused(mark, f"more than {MAX_ALIASES} aliases")
                self._count(self._sizes[target], mark)
            return super().compose_node(parent, index)
        self._depth += 1
        if self._depth > MAX_DEPTH:
            raise _refused(mark, f"nested more than {MAX_DEPTH} levels deep")
        before = self._nodes
        node = super().compose_node(parent, index)
        self._depth -= 1
        self._count(1, mark)
        if node is not None:
            self._sizes[node] = self._nodes - before
        return node

    def _count(self, nodes: int, mark: yaml.Mark) -> None:
        self._nodes += nodes
        if self._nodes > MAX_NODES:
            raise _refused(
                mark, f"more than {MAX_NODES} nodes (an alias counts as the nodes it repeats)"
            )


def _refused(mark: yaml.Mark, problem: str) -> yaml.MarkedYAMLError:
    return ComposerError(None, None, f"refused: {problem}", mark)


class LineMap:
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


def field_path(loc: Loc) -> str:
    """A location as the messages write it: ``axes.category.labels[2].name``."""
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "(top level)"


def read_yaml(source: str, filename: str, error: type[GatewayError]) -> tuple[object, LineMap]:
    """One YAML document, within the budgets above, and the line of each key and item in it.
    A YAML problem is ``error("file:line: (yaml): ...")``."""
    loader = _BoundedLoader(source)
    try:
        root = loader.get_single_node()
        # mapped before construction: merge keys (<<) flatten the node tree in place
        lines = LineMap(root)
        data = loader.construct_document(root) if root is not None else None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else 1
        raise error(f"{filename}:{line}: (yaml): {exc.problem or exc}") from None
    except yaml.YAMLError as exc:
        raise error(f"{filename}:1: (yaml): {exc}") from None
    finally:
        loader.dispose()
    return data, lines


def parse_rubric(source: str, filename: str, default_name: str | None = None) -> RubricSet:
    """Parse and validate one rubric document.

    Raises ``RubricInvalidError`` listing every problem, each as ``file:line: field: message``.
    """
    if len(source) > MAX_RUBRIC_BYTES:  # characters: at least as many bytes
        raise RubricInvalidError(
            f"{filename}:1: (file): over the limit of {MAX_RUBRIC_BYTES} bytes"
        )
    data, lines = read_yaml(source, filename, RubricInvalidError)
    problems = [
        f"{filename}:{line}: {field_path(loc)}: duplicate key" for loc, line in lines.duplicates
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
            cause = err.get("ctx", {}).get("error")
            if isinstance(cause, RuleProblemsError):  # found across fields, each at its own place
                for where, msg in cause.problems:
                    at = (*loc, *where)
                    problems.append(f"{filename}:{lines.line_of(at)}: {field_path(at)}: {msg}")
                continue
            msg = err["msg"].removeprefix("Value error, ")
            problems.append(f"{filename}:{lines.line_of(loc)}: {field_path(loc)}: {msg}")
        raise RubricInvalidError(problems[0], problems) from None
    if problems:
        raise RubricInvalidError(problems[0], problems)
    return rubric


def load_rubric_file(path: Path) -> RubricSet:
    try:
        with path.open("rb") as file:
            raw = file.read(MAX_RUBRIC_BYTES + 1)  # bounded: a huge file is never read whole
        if len(raw) > MAX_RUBRIC_BYTES:
            raise RubricInvalidError(
                f"{path}:1: (file): over the limit of {MAX_RUBRIC_BYTES} bytes"
            )
        source = raw.decode("utf-8")
    except OSError as exc:
        raise RubricInvalidError(f"{path}:1: (file): cannot read: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise RubricInvalidError(f"{path}:1: (file): not UTF-8 text") from None
    return parse_rubric(source, str(path), default_name=path.stem)
