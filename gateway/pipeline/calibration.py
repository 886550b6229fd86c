"""Per-(rubric, scorer, model, prompt) calibration: a temperature, per-label thresholds and a
none_fits floor.

``rubric calibrate`` fits them on labelled tickets (the eval harness's ``fitting`` module) and
writes ``<rubric>.calibration.json`` beside the rubric file (JSON, not YAML: the rubric store
loads every ``*.yaml`` as a rubric). The gateway looks the entry up with ``CalibrationStore.find``
and runs ``Calibration.applied`` on an axis' full-precision ``scores`` before the decision, so
thresholds mean the same thing across scorers, and decides with ``Calibration.floors_for`` (the
rubric's own none_fits floor). This module holds what serving needs (the model, applying it, its
file) and, being below the eval harness, imports nothing from it.

Temperature scaling (Guo et al., 2017): with logits z recovered as log(scores) (every scorer's
distribution is a softmax of something, so log(scores) equals its logits up to a constant),
calibrated = softmax(z / t). One scalar keeps the ranking, so top label and accuracy do not move;
only confidence does.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import threading
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal, Protocol

import numpy as np
from numpy.typing import ArrayLike, NDArray
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from gateway.config import Floors
from gateway.pipeline.fit_score import LabelTraffic, lifted_best
from gateway.rubrics import Thresholds
from gateway.scoring import AxisScores, top_label

FloatArray = NDArray[np.float64]

# Floor for log(score): scores arrive rounded (4 decimals on the wire), so 0 means "below 5e-5".
_EPS = 1e-12
_SUFFIX = ".calibration.json"


class CalibrationKey(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    fingerprint: str = Field(description="rubric fingerprint (RubricSet.fingerprint)")
    scorer: str
    model: str
    prompt: str | None = None
    axis: str = "category"
    local_weight: float | None = Field(
        None, description="the embedded model's share mixed into the answer (scoring.blend)"
    )


class FitReport(BaseModel):
    """How a calibration was fitted and what it did on tickets it was not fitted on."""

    model_config = ConfigDict(extra="forbid")

    suite: str
    fit_split: str
    heldout_split: str
    n_fit: int
    n_heldout: int
    nll_before: float
    nll_after: float
    ece_before: float
    ece_after: float
    # ECE counting out-of-scope tickets (always wrong) too; None where the data has none
    ece_all_before: float | None = None
    ece_all_after: float | None = None
    brier_before: float
    brier_after: float
    # none_fits on the held-out split, at the deployment's floor (before) and the fitted one
    # (after): share of in-scope tickets flagged, and of out-of-scope (None where there are none)
    none_fits_in_scope_before: float | None = None
    none_fits_in_scope_after: float | None = None
    none_fits_oos_before: float | None = None
    none_fits_oos_after: float | None = None
    fitted_at: str = Field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))


class Calibration(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    key: CalibrationKey
    temperature: float = Field(gt=0, description="calibrated = softmax(log(scores) / temperature)")
    objective: Literal["confidence", "nll"] = Field(
        "confidence", description="what the temperature was fitted to (see fit_temperature*)"
    )
    # label -> confidence at which that label reaches the target precision (auto-route bar);
    # a label missing here uses the rubric's auto_route threshold.
    label_thresholds: dict[str, float] = Field(default_factory=dict)
    target_precision: float | None = None
    # the best raw score under which no label fits (none_fits), fitted so that about
    # ``none_fits_rate`` of in-scope tickets fall under it; None: GATEWAY_NONE_FITS_FLOOR
    none_fits_floor: float | None = Field(None, ge=0, le=1)
    none_fits_rate: float | None = Field(None, gt=0, lt=1)
    # per label, what the fit score (``fit_score``) that floor is on needs; empty: best raw
    none_fits_labels: dict[str, LabelTraffic] = Field(default_factory=dict)
    report: FitReport | None = None

    @property
    def id(self) -> str:
        """Short stable name for responses and logs: changes whenever the numbers change."""
        numbers: dict[str, object] = {
            # local_weight only when set: calibrations fitted before it keep their ids
            "key": self.key.model_dump(
                mode="json", exclude={"local_weight"} if self.key.local_weight is None else None
            ),
            "t": self.temperature,
            "thr": self.label_thresholds,
        }
        if self.none_fits_floor is not None:  # only when set: older files keep their ids
            numbers["nf"] = self.none_fits_floor
            numbers["nfl"] = {k: v.model_dump() for k, v in self.none_fits_labels.items()}
        payload = json.dumps(numbers, sort_keys=True)
        return "cal-" + hashlib.sha256(payload.encode()).hexdigest()[:12]

    def apply(self, scores: Mapping[str, float]) -> dict[str, float]:
        """Temperature-scale one distribution; keys and order are kept."""
        names = list(scores)
        probs = apply_temperature(np.log(np.maximum(list(scores.values()), _EPS)), self.temperature)
        return dict(zip(names, probs.tolist(), strict=True))

    def auto_route_threshold(self, label: str, default: float) -> float:
        return self.label_thresholds.get(label, default)

    def applied(self, scored: AxisScores, thresholds: Thresholds) -> tuple[AxisScores, Thresholds]:
        """An axis' scores and thresholds after this calibration: the server applies it after
        the cache, and the eval harness offline, both through here."""
        scores = self.apply(scored.scores)
        auto = self.auto_route_threshold(top_label(scores), thresholds.auto_route)
        return (
            AxisScores(raw=scored.raw, scores=scores, evidence=scored.evidence),
            Thresholds(auto_route=auto, review=min(thresholds.review, auto)),
        )

    def fit_score(self, raw: Mapping[str, float]) -> float | None:
        """The ticket's none_fits signal (``lifted_best``) where this calibration fitted one;
        None: the best raw score is the signal."""
        if self.none_fits_floor is None or not self.none_fits_labels or not raw:
            return None
        return lifted_best(raw, self.none_fits_labels)

    def floors_for(self, floors: Floors) -> Floors:
        """The deployment's floors with this calibration's none_fits floor, where it has one.
        No ticket may be both none_fits and multi_fit (the invariant Floors checks): a floor on
        the best raw score is kept at or under multi_fit (none_fits then needs every raw score
        under it, multi_fit two at or over multi_fit); a floor on the fit score is in other
        units, and ``decide_axis`` keeps the two apart itself."""
        if self.none_fits_floor is None:
            return floors
        floor = self.none_fits_floor
        if not self.none_fits_labels:
            floor = min(floor, floors.multi_fit)
        return floors.model_copy(update={"none_fits": floor})


class CalibrationFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: int = 1
    entries: list[Calibration] = Field(default_factory=list)

    def lookup(self, wanted: CalibrationKey) -> Calibration | None:
        """The entry fitted for exactly this rubric content, scorer, model, prompt and axis."""
        return next((e for e in self.entries if e.key == wanted), None)


# --------------------------------------------------------------------------- temperature


def apply_temperature(logits: ArrayLike, temperature: float) -> FloatArray:
    """Row-wise softmax(logits / temperature) for a vector or a matrix."""
    z = np.asarray(logits, dtype=np.float64) / temperature
    z = z - z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    out: FloatArray = e / e.sum(axis=-1, keepdims=True)
    return out


def logits_from_scores(scores: ArrayLike) -> FloatArray:
    out: FloatArray = np.log(np.maximum(np.asarray(scores, dtype=np.float64), _EPS))
    return out


# --------------------------------------------------------------------------- files


def calibration_path(rubric_path: Path) -> Path:
    """``rubrics/support.yaml`` → ``rubrics/support.calibration.json``: where the gateway looks
    for a rubric's calibrations (and ``rubric calibrate`` writes them unless told otherwise)."""
    return rubric_path.with_name(rubric_path.stem + _SUFFIX)


def read_calibration_file(rubric_path: Path, file: Path | None = None) -> CalibrationFile:
    """The calibrations beside a rubric, or in ``file`` when one is given."""
    path = file if file is not None else calibration_path(rubric_path)
    if not path.is_file():
        return CalibrationFile()
    try:
        return CalibrationFile.model_validate_json(path.read_bytes())
    except (OSError, ValidationError, ValueError):
        # a broken calibration file means "uncalibrated", never a failed request
        return CalibrationFile()


def load_calibration(
    rubric_path: Path,
    fingerprint: str,
    scorer: str,
    model: str,
    prompt: str | None,
    axis: str = "category",
    *,
    file: Path | None = None,
    local_weight: float | None = None,
) -> Calibration | None:
    """The calibration fitted for exactly this rubric content, scorer, model, prompt and
    embedded model's share, from the file beside the rubric (or ``file``).

    A rubric edit changes the fingerprint, so a stale calibration is never applied.
    """
    key = CalibrationKey(
        fingerprint=fingerprint,
        scorer=scorer,
        model=model,
        prompt=prompt,
        axis=axis,
        local_weight=local_weight,
    )
    return read_calibration_file(rubric_path, file).lookup(key)


class CalibrationFinder(Protocol):
    """Where the classifier finds the calibration for a rubric file and key."""

    def find(self, rubric_path: Path, key: CalibrationKey) -> Calibration | None: ...


class NoCalibrations:
    """A finder that finds none: responses keep the scorer's own distribution (the eval
    harness asks for these and applies calibrations offline, so it reports both)."""

    def find(self, rubric_path: Path, key: CalibrationKey) -> Calibration | None:
        return None


class CalibrationStore:
    """Calibration files beside rubric files, for the request path: each file is parsed once
    and re-read only when its mtime or size changes, so ``rubric calibrate`` takes effect on a
    running server without a restart (as rubric edits do)."""

    def __init__(self) -> None:
        self._files: dict[Path, tuple[tuple[int, int], CalibrationFile]] = {}
        self._lock = threading.Lock()

    def find(self, rubric_path: Path, key: CalibrationKey) -> Calibration | None:
        """``load_calibration``, with each file parsed once while it is unchanged."""
        path = calibration_path(rubric_path)
        try:
            stat = path.stat()
        except OSError:
            return None
        stamp = (stat.st_mtime_ns, stat.st_size)
        with self._lock:
            cached = self._files.get(path)
        if cached is None or cached[0] != stamp:
            cached = (stamp, read_calibration_file(rubric_path))
            with self._lock:
                self._files[path] = cached
        return cached[1].lookup(key)


def save_calibration(rubric_path: Path, calibration: Calibration, file: Path | None = None) -> Path:
    """Add or replace the entry with the same key, in the file beside the rubric (which the
    gateway reads) or in ``file``; written atomically (a server may be reading)."""
    path = file if file is not None else calibration_path(rubric_path)
    path.parent.mkdir(parents=True, exist_ok=True)
    current = read_calibration_file(rubric_path, path)
    entries = [e for e in current.entries if e.key != calibration.key]
    # drop entries of older rubric versions for the same scorer/model/prompt: they can never match
    entries = [
        e
        for e in entries
        if not (
            e.key.scorer == calibration.key.scorer
            and e.key.model == calibration.key.model
            and e.key.prompt == calibration.key.prompt
            and e.key.axis == calibration.key.axis
        )
    ]
    entries.append(calibration)
    body = CalibrationFile(entries=entries).model_dump_json(indent=2) + "\n"
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(body)
        Path(tmp).replace(path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
