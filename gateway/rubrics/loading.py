"""Rubric sets: YAML in, validated ``RubricSet`` out.

Every problem is reported as ``file:line: field: message``. PyYAML's node tree gives each key
and list item its line; pydantic's error locations are looked up in that map, so a product
manager editing a file sees where the mistake is, not a stack trace.
"""

from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import ValidationError

from gateway.errors import RubricInvalidError
from gateway.rubrics.model import RubricSet

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
