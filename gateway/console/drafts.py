"""A draft of a rubric file: its problems (exactly what ``rubric check`` prints, by line) and a
classifier that serves it, sharing the served classifier's loaded models.

The draft classifier reads the draft from a temporary directory of its own, so the served
directory never sees an unsaved draft; it applies no stored calibration (one fitted for the
saved file does not fit an edited one) and no promoted head.
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from pydantic import BaseModel

from gateway.errors import RubricInvalidError
from gateway.pipeline import Classifier, NoCalibrations
from gateway.rubrics import RubricSet, RubricStore, parse_rubric

_AT_LINE = re.compile(r"^.*?:(\d+): ")
_NAME_KEY = re.compile(r"^name\s*:", re.MULTILINE)


class Problem(BaseModel):
    """One ``file:line: field: message`` problem and the line it names."""

    line: int
    text: str


class Checked(BaseModel):
    rubric: RubricSet | None
    problems: list[Problem]

    @property
    def ok(self) -> bool:
        return self.rubric is not None and not self.problems

    def lines(self) -> dict[int, list[str]]:
        out: dict[int, list[str]] = {}
        for p in self.problems:
            out.setdefault(p.line, []).append(p.text)
        return out


def _problem(text: str) -> Problem:
    found = _AT_LINE.match(text)
    return Problem(line=int(found.group(1)) if found else 1, text=text)


def check_draft(source: str, path: Path, served_name: str) -> Checked:
    """The draft's problems as ``rubric check`` reports them for ``path``; and one of the
    console's own: the draft must keep the set's name (a rename is a new file)."""
    try:
        rubric = parse_rubric(source, str(path), default_name=path.stem)
    except RubricInvalidError as exc:
        return Checked(rubric=None, problems=[_problem(p) for p in exc.problems])
    if rubric.name != served_name:
        found = _NAME_KEY.search(source)
        line = source.count("\n", 0, found.start()) + 1 if found else 1
        problem = (
            f"{path}:{line}: name: the console edits rubric set {served_name!r}; "
            f"renaming it to {rubric.name!r} here is not supported (add a new file instead)"
        )
        return Checked(rubric=rubric, problems=[_problem(problem)])
    return Checked(rubric=rubric, problems=[])


@contextmanager
def draft_classifier(served: Classifier, source: str, path: Path) -> Iterator[Classifier]:
    """A classifier serving the draft (under its own name), built on ``served``'s redactor
    and scorers: no model is loaded again."""
    with tempfile.TemporaryDirectory(prefix="rubric-draft-") as folder:
        (Path(folder) / path.name).write_text(source, encoding="utf-8")
        store = RubricStore(Path(folder), reload_interval_s=3600.0)
        classifier = Classifier(
            served.settings,
            store,
            served.intake.redactor,
            served.variants,
            calibrations=NoCalibrations(),
        )
        try:
            yield classifier
        finally:
            classifier.close()
