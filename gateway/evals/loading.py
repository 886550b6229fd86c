"""Loading a suite: its paths resolved, its rubric parsed, its tickets read from the dataset.

Dataset paths are relative to ``data_dir``, which is itself relative to the suite file unless
``--data-dir`` (or ``GATEWAY_EVAL_DATA_DIR``) overrides it; the rubric path is relative to the
suite file. Data is referenced, never copied into the repository.
"""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Iterator
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from gateway.evals.sampling import sample_tickets
from gateway.evals.suite import DataMissingError, RunSpec, Suite, SuiteError, Ticket
from gateway.rubrics import RubricSet, load_rubric_file

DATA_DIR_ENV = "GATEWAY_EVAL_DATA_DIR"


class LoadedSuite(BaseModel):
    """A suite with its paths resolved and its rubric parsed."""

    model_config = ConfigDict(frozen=True)

    suite: Suite
    path: Path
    data_dir: Path
    rubric_path: Path
    rubric: RubricSet
    axis: str

    @property
    def labels(self) -> list[str]:
        return self.rubric.axes[self.axis].names

    @property
    def multi_label(self) -> bool:
        return self.suite.dataset.multi_label or self.rubric.axes[self.axis].multi_label

    def runs(self) -> list[RunSpec]:
        return self.suite.matrix.runs()

    def rubric_examples(self) -> set[str]:
        """Texts the rubric itself carries as examples: fitting or scoring on them would leak."""
        return {
            " ".join(ex.split()).lower()
            for label in self.rubric.axes[self.axis].labels
            for ex in label.examples
        }

    def split_path(self, split: str) -> Path:
        return self.data_dir / self.suite.dataset.splits[split]

    def tickets(
        self,
        split: str | None = None,
        size: int | None = None,
        seed: int | None = None,
        stratify: bool | None = None,
    ) -> list[Ticket]:
        """Tickets of a split (default the suite's), sampled without replacement with a seed,
        stratified by gold label where asked (``sampling``); None: the suite's ``sample:``."""
        split = split or self.suite.split
        path = self.split_path(split)
        if not path.is_file():
            raise DataMissingError(
                f"dataset file {path} for suite {self.suite.name!r} (split {split!r}) is not "
                f"here; set data_dir in {self.path.name}, pass --data-dir, or {DATA_DIR_ENV} "
                "(--allow-missing skips the suite instead)"
            )
        rows = list(self._rows(path, split))
        spec = self.suite.sample
        size = size if size is not None else spec.size
        seed = seed if seed is not None else spec.seed
        stratify = stratify if stratify is not None else spec.stratify
        if size is not None and size < len(rows):
            rows = sample_tickets(rows, size, seed, stratify)
            rows.sort(key=lambda t: _natural(t.id))
        return rows

    def _rows(self, path: Path, split: str) -> Iterator[Ticket]:
        ds = self.suite.dataset
        fmt = ds.format or ("csv" if path.suffix.lower() == ".csv" else "jsonl")
        known = set(self.labels)
        oos = set(self.suite.oos_labels)
        for line_no, record in _records(path, fmt, ds.csv_delimiter):
            where = f"{path}:{line_no}"
            text = record.get(ds.text_field)
            value = record.get(ds.label_field)
            if not isinstance(text, str):
                raise SuiteError(f"{where}: field {ds.text_field!r} is missing or not text")
            if ds.multi_label:
                if isinstance(value, str):
                    value = [v for v in value.split("|") if v]
                if not isinstance(value, list):
                    raise SuiteError(f"{where}: field {ds.label_field!r} is not a list of labels")
                raw_labels = [str(v) for v in value]
            else:
                if value is None:
                    raise SuiteError(f"{where}: field {ds.label_field!r} is missing")
                raw_labels = [str(value)]
            gold: list[str] = []
            in_scope = True
            for raw in raw_labels:
                label = self.suite.label_map.get(raw, raw)
                if label in oos:
                    in_scope = False
                elif label in known:
                    gold.append(label)
                else:
                    # unmapped labels are a suite bug; failing loudly beats a silent 0 recall
                    raise SuiteError(
                        f"{where}: label {raw!r} is not in rubric axis {self.axis!r} "
                        f"({self.rubric_path.name}); add it to label_map or oos_labels"
                    )
            ticket_id = (
                str(record[ds.id_field])
                if ds.id_field and record.get(ds.id_field) is not None
                else f"{split}-{line_no}"
            )
            yield Ticket(id=ticket_id, text=text, gold=tuple(gold), in_scope=in_scope)


def _natural(ticket_id: str) -> tuple[str, int]:
    head, _, tail = ticket_id.rpartition("-")
    return (head, int(tail)) if tail.isdigit() else (ticket_id, 0)


def _records(path: Path, fmt: str, delimiter: str) -> Iterator[tuple[int, dict[str, object]]]:
    with path.open(encoding="utf-8", newline="") as fh:
        if fmt == "csv":
            for i, row in enumerate(csv.DictReader(fh, delimiter=delimiter), start=2):
                yield i, dict(row)
            return
        for i, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise SuiteError(f"{path}:{i}: not JSON: {exc.msg}") from None
            if not isinstance(record, dict):
                raise SuiteError(f"{path}:{i}: expected a JSON object")
            yield i, record


def load_suite(path: Path, data_dir: Path | None = None) -> LoadedSuite:
    """Parse a suite file and its rubric; data is only checked when tickets are read."""
    try:
        source = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise SuiteError(f"{path}: cannot read: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise SuiteError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(source, dict):
        raise SuiteError(f"{path}: expected a mapping")
    try:
        suite = Suite.model_validate(source)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or '(top level)'}: {e['msg']}"
            for e in exc.errors(include_input=False, include_url=False)
        )
        raise SuiteError(f"{path}: {problems}") from None
    base = path.resolve().parent
    env_dir = os.environ.get(DATA_DIR_ENV)
    resolved_data = (
        data_dir if data_dir is not None else Path(env_dir) if env_dir else base / suite.data_dir
    )
    rubric_path = (base / suite.rubric).resolve()
    rubric = load_rubric_file(rubric_path)
    axis = suite.axis or rubric.primary_axis
    if axis not in rubric.axes:
        raise SuiteError(f"{path}: axis {axis!r} is not in rubric {rubric.name!r}")
    return LoadedSuite(
        suite=suite,
        path=path.resolve(),
        data_dir=resolved_data.resolve(),
        rubric_path=rubric_path,
        rubric=rubric,
        axis=axis,
    )
