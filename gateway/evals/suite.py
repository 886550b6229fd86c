"""Eval suites: which labelled tickets, which rubric, which runs (DESIGN.md §6).

A suite is YAML validated by pydantic (``extra="forbid"``, so a typo is an error, not a silently
ignored key). Dataset paths are relative to ``data_dir``, which is itself relative to the suite
file unless ``--data-dir`` (or ``GATEWAY_EVAL_DATA_DIR``) overrides it; the rubric path is
relative to the suite file. Data is referenced, never copied into the repository.
"""

from __future__ import annotations

import csv
import itertools
import json
import os
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from gateway.errors import GatewayError
from gateway.rubrics.model import RubricSet, load_rubric_file

DATA_DIR_ENV = "GATEWAY_EVAL_DATA_DIR"


class SuiteError(GatewayError):
    """A suite file that does not parse, or names data that does not fit its rubric."""

    status = 400
    code = "suite_invalid"


class DataMissingError(GatewayError):
    """The suite's dataset is not on this machine: the run is skipped, not failed."""

    status = 404
    code = "suite_data_missing"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DatasetSpec(_Strict):
    # split name -> file, relative to the suite's data_dir
    splits: dict[str, str] = Field(min_length=1)
    format: Literal["jsonl", "csv"] | None = Field(None, description="default: from the suffix")
    text_field: str = "text"
    label_field: str = "label"
    id_field: str | None = Field(None, description="default: <split>-<line number>")
    multi_label: bool = Field(False, description="label field holds a list of labels")
    csv_delimiter: str = ","
    licence: str
    attribution: str
    # Ticket text in reports (flipped tickets) only where the licence allows redistribution and
    # the text holds no personal data; default off.
    share_text: bool = False


class SampleSpec(_Strict):
    size: int | None = Field(None, ge=1, description="None: the whole split")
    seed: int = 0


ScorerName = Literal["local", "llm", "logprob", "cascade"]


def _default_scorers() -> list[ScorerName]:
    return ["local"]


def _none_list() -> list[str | None]:
    return [None]


class MatrixSpec(_Strict):
    scorers: list[ScorerName] = Field(default_factory=_default_scorers, min_length=1)
    models: list[str | None] = Field(default_factory=_none_list, min_length=1)
    prompts: list[str | None] = Field(default_factory=_none_list, min_length=1)


class CalibrationSpec(_Strict):
    split: str = Field(description="labelled tickets the temperature is fitted on")
    size: int | None = Field(2000, ge=1)
    seed: int = 0
    heldout_split: str | None = Field(None, description="default: the suite's split")
    target_precision: float = Field(0.95, gt=0, le=1)


class Suite(_Strict):
    name: str
    description: str | None = None
    data_dir: str = Field(description="relative to the suite file, or absolute")
    dataset: DatasetSpec
    rubric: str = Field(description="rubric file, relative to the suite file")
    axis: str | None = Field(None, description="rubric axis evaluated; default the primary")
    label_map: dict[str, str] = Field(
        default_factory=dict, description="dataset label -> rubric label"
    )
    # Gold labels that no rubric label covers: right answers are 'none fits' (manual), and
    # confidence should separate them from in-scope tickets (AUROC).
    oos_labels: list[str] = Field(default_factory=list)
    split: str = "test"
    sample: SampleSpec = SampleSpec()
    matrix: MatrixSpec = MatrixSpec()
    calibration: CalibrationSpec | None = None
    # false sends redact=false (the eval's own settings allow it): public datasets with no
    # personal data, where a redactor only costs time and may change results.
    redact: bool | None = None
    batch_size: int = Field(128, ge=1, le=4096)
    concurrency: int = Field(4, ge=1, le=256, description="batches in flight (provider calls)")

    @model_validator(mode="after")
    def _splits_known(self) -> Suite:
        names = [self.split]
        if self.calibration is not None:
            names.append(self.calibration.split)
            if self.calibration.heldout_split:
                names.append(self.calibration.heldout_split)
        for name in names:
            if name not in self.dataset.splits:
                raise ValueError(
                    f"split {name!r} is not in dataset.splits {sorted(self.dataset.splits)}"
                )
        return self


class RunSpec(BaseModel):
    """One cell of the matrix."""

    model_config = ConfigDict(frozen=True)

    scorer: str
    model: str | None = None
    prompt: str | None = None
    # "cal": the same responses with a stored calibration applied offline
    variant: str | None = None

    @property
    def key(self) -> str:
        """``local``, ``llm@openai/gpt-4o-mini~classify.v2``, ``local+cal``: stable, readable,
        and free of '|' (Markdown tables)."""
        key = self.scorer
        if self.model:
            key += f"@{self.model}"
        if self.prompt:
            key += f"~{self.prompt}"
        if self.variant:
            key += f"+{self.variant}"
        return key


class Ticket(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: str
    text: str
    gold: tuple[str, ...] = Field(description="rubric labels; empty: out of scope / no intent")
    in_scope: bool = True


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
        m = self.suite.matrix
        return [
            RunSpec(scorer=s, model=mo, prompt=p)
            for s, mo, p in itertools.product(m.scorers, m.models, m.prompts)
        ]

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
        self, split: str | None = None, size: int | None = None, seed: int | None = None
    ) -> list[Ticket]:
        """Tickets of a split (default the suite's), sampled without replacement with a seed."""
        split = split or self.suite.split
        path = self.split_path(split)
        if not path.is_file():
            raise DataMissingError(
                f"dataset file {path} for suite {self.suite.name!r} (split {split!r}) is not "
                f"here; set data_dir in {self.path.name}, pass --data-dir, or {DATA_DIR_ENV}"
            )
        rows = list(self._rows(path, split))
        size = size if size is not None else self.suite.sample.size
        seed = seed if seed is not None else self.suite.sample.seed
        if size is not None and size < len(rows):
            rows = random.Random(seed).sample(rows, size)  # noqa: S311 (sampling, not secrets)
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
