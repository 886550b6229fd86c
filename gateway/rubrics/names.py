"""One rubric set name, one file: the problems of files that claim a name another file uses.

The gateway looks rubric sets up by ``name:`` across a directory, so two files with one name
would make which file is served depend on the order files are listed in. The store refuses
that (``RubricStore``), and so does ``rubric check``, both with the problem written here, in
the ``file:line: field: message`` form of every rubric problem, naming every file involved.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from gateway.errors import RubricInvalidError
from gateway.rubrics.loading import load_rubric_file

_NAME_KEY = re.compile(r"^name\s*:", re.MULTILINE)
RUBRIC_PATTERNS = ("*.yaml", "*.yml")


def name_line(path: Path) -> int:
    """The line of a file's top-level ``name:`` key; 1 where it has none (the file's stem)."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return 1
    found = _NAME_KEY.search(text)
    return text.count("\n", 0, found.start()) + 1 if found else 1


def duplicate_name_problem(
    path: Path, name: str, others: Sequence[Path], served: Path | None = None
) -> str:
    """``file:line: name: ...`` for a file whose rubric set name other files use too."""
    also = " and ".join(str(p) for p in others)
    outcome = (
        f"{served} keeps serving it (it was served first)"
        if served is not None
        else "none of them is served under that name"
    )
    return (
        f"{path}:{name_line(path)}: name: rubric name {name!r} is also used by {also}; "
        f"{outcome}; give each file its own name"
    )


def rubric_files(directory: Path) -> list[Path]:
    """The files a rubric store loads from a directory, in its order."""
    if not directory.is_dir():
        return []
    return [p for pattern in RUBRIC_PATTERNS for p in sorted(directory.glob(pattern))]


def name_conflicts(checked: Mapping[Path, str], directories: Iterable[Path] = ()) -> list[str]:
    """Problems of the ``checked`` files (path → rubric set name) whose name another file uses:
    another checked file, or any rubric file in ``directories`` (what a server loading those
    directories would see). Files there that do not parse are left to their own check."""
    names: dict[Path, str] = {p.resolve(): n for p, n in checked.items()}
    shown: dict[Path, Path] = {p.resolve(): p for p in checked}
    for directory in directories:
        for path in rubric_files(directory):
            key = path.resolve()
            if key in names:
                continue
            try:
                names[key] = load_rubric_file(path).name
            except RubricInvalidError:
                continue
            shown[key] = path
    by_name: dict[str, list[Path]] = {}
    for key, name in names.items():
        by_name.setdefault(name, []).append(key)
    problems = []
    for path in checked:
        key = path.resolve()
        claims = by_name[names[key]]
        if len(claims) > 1:
            others = sorted(shown[k] for k in claims if k != key)
            problems.append(duplicate_name_problem(path, names[key], others))
    return problems
