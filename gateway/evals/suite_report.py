"""metrics.json: a suite's report as a model, and reading a previous one back."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, Field

from gateway.evals.comparison import Comparison
from gateway.evals.gates import Gate
from gateway.evals.run_metrics import RunMetrics


class DatasetInfo(BaseModel):
    split: str
    path: str
    n: int
    licence: str
    attribution: str
    sample_size: int | None
    seed: int
    stratified: bool = False


class SuiteRubric(BaseModel):
    """The rubric a suite evaluated, as its report names it."""

    name: str
    path: str
    fingerprint: str
    axis: str
    labels: int


class CalibrationUsed(BaseModel):
    """A stored calibration that the numbers of some runs (``runs``) were computed with."""

    id: str
    runs: list[str]
    file: str
    temperature: float
    objective: str
    label_thresholds: int = Field(description="labels with their own auto-route bar")
    none_fits_floor: float | None = Field(None, description="None: the deployment's floor")
    fitted_on: str | None = None
    fitted_at: str | None = None


class CalibrationInfo(BaseModel):
    """Which calibration each run's numbers used. A run without ``+cal`` in its key used none
    (the scorer's own distribution); ``+cal`` runs are the same responses with ``used``
    applied offline, decided again as the server decides."""

    applied: bool = Field(description="false: --no-calibration, every number is uncalibrated")
    file: str | None = Field(None, description="where stored calibrations were looked up")
    used: list[CalibrationUsed] = Field(default_factory=list)
    missing: list[str] = Field(
        default_factory=list, description="runs with no calibration stored for them"
    )


class SuiteReport(BaseModel):
    """metrics.json: everything a later run needs to compare against this one."""

    suite: str
    suite_path: str
    created_at: str
    dataset: DatasetInfo
    rubric: SuiteRubric
    runs: list[RunMetrics]
    calibration: CalibrationInfo | None = None  # None: a report written before it was recorded
    comparisons: list[Comparison] = Field(default_factory=list)
    gates: list[Gate] = Field(default_factory=list)

    @property
    def passed(self) -> bool:
        return all(g.passed for g in self.gates)


def read_report(path: Path) -> SuiteReport:
    """A previous report, from its directory or its metrics.json."""
    file = path / "metrics.json" if path.is_dir() else path
    return SuiteReport.model_validate_json(file.read_bytes())
