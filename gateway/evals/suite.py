"""Eval suites: which labelled tickets, which rubric, which runs (DESIGN.md §6).

A suite is YAML validated by pydantic (``extra="forbid"``, so a typo is an error, not a silently
ignored key); ``loading.load_suite`` reads one and resolves its paths. Its errors are set-up
errors (``gateway.errors.SetupError``): the CLI reports them and exits 2 (3 when the suite's
data is absent, unless ``--allow-missing`` skips it).
"""

from __future__ import annotations

import itertools
from typing import Literal

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, model_validator

from gateway.errors import SetupError


class SuiteError(SetupError):
    """A suite file that does not parse, or names data that does not fit its rubric."""

    code = "suite_invalid"


class DataMissingError(SetupError):
    """The suite's dataset is not where the suite (or ``--data-dir``) says: an error (a typo
    in a path must not pass as a skipped suite), skipped only with ``--allow-missing``."""

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
    """``sample: {size: 500, seed: 0}`` (``n`` is accepted for ``size``); ``stratify: true``
    keeps each gold label's share of the split (and every label with at least one ticket,
    where the size allows), so small labels do not vanish from a sample."""

    size: int | None = Field(
        None, ge=1, validation_alias=AliasChoices("size", "n"), description="None: whole split"
    )
    seed: int = 0
    stratify: bool = False


ScorerName = Literal["local", "llm", "logprob", "cascade"]

# Whether a scorer asks a model (and so takes the matrix's models and prompts). The embedded
# model takes neither: in a matrix it is one run, however many models and prompts are listed.
SCORER_ASKS_MODEL: dict[str, bool] = {"local": False, "llm": True, "logprob": True, "cascade": True}


def _default_scorers() -> list[ScorerName]:
    return ["local"]


def _none_list() -> list[str | None]:
    return [None]


class MatrixSpec(_Strict):
    """Scorers × models × prompts; the local scorer is one run (it asks no model)."""

    scorers: list[ScorerName] = Field(default_factory=_default_scorers, min_length=1)
    models: list[str | None] = Field(default_factory=_none_list, min_length=1)
    prompts: list[str | None] = Field(default_factory=_none_list, min_length=1)

    def runs(self) -> list[RunSpec]:
        """Each cell once, in order: a scorer that asks no model gets no model and no prompt."""
        cells: dict[RunSpec, None] = {}
        for scorer, model, prompt in itertools.product(self.scorers, self.models, self.prompts):
            asks = SCORER_ASKS_MODEL[scorer]
            cells.setdefault(
                RunSpec(
                    scorer=scorer, model=model if asks else None, prompt=prompt if asks else None
                )
            )
        return list(cells)


class CalibrationSpec(_Strict):
    split: str = Field(description="labelled tickets the temperature is fitted on")
    size: int | None = Field(2000, ge=1, validation_alias=AliasChoices("size", "n"))
    seed: int = 0
    stratify: bool = False
    heldout_split: str | None = Field(None, description="default: the suite's split")
    target_precision: float = Field(0.95, gt=0, le=1)
    none_fits_rate: float = Field(
        0.05,
        ge=0,
        lt=1,
        description="share of in-scope tickets the fitted none_fits floor may flag; 0: keep "
        "the deployment's floor",
    )
    none_fits_lift: float = Field(
        0.5,
        ge=0,
        description="weight of a label's lift over its traffic in the none_fits fit score; "
        "0: the floor is on the best raw score",
    )


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
