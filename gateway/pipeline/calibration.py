"""Per-(rubric, scorer, model, prompt) calibration: a temperature and per-label thresholds.

``rubric calibrate`` fits them on labelled tickets and writes ``<rubric>.calibration.json``
beside the rubric file (JSON, not YAML: the rubric store loads every ``*.yaml`` as a rubric).
The gateway looks the entry up with ``load_calibration`` and runs ``Calibration.apply`` on an
axis' full-precision ``scores`` before the decision, so thresholds mean the same thing across
scorers.

Temperature scaling (Guo et al., 2017): with logits z recovered as log(scores) (every scorer's
distribution is a softmax of something, so log(scores) equals its logits up to a constant),
calibrated = softmax(z / t). One scalar keeps the ranking, so top label and accuracy do not move;
only confidence does.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import tempfile
import threading
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from gateway.evals.metrics import threshold_for_precision

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
    report: FitReport | None = None

    @property
    def id(self) -> str:
        """Short stable name for responses and logs: changes whenever the numbers change."""
        payload = json.dumps(
            {
                "key": self.key.model_dump(mode="json"),
                "t": self.temperature,
                "thr": self.label_thresholds,
            },
            sort_keys=True,
        )
        return "cal-" + hashlib.sha256(payload.encode()).hexdigest()[:12]

    def apply(self, scores: Mapping[str, float]) -> dict[str, float]:
        """Temperature-scale one distribution; keys and order are kept."""
        names = list(scores)
        probs = apply_temperature(np.log(np.maximum(list(scores.values()), _EPS)), self.temperature)
        return dict(zip(names, probs.tolist(), strict=True))

    def auto_route_threshold(self, label: str, default: float) -> float:
        return self.label_thresholds.get(label, default)


class CalibrationFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: int = 1
    entries: list[Calibration] = Field(default_factory=list)

    def lookup(
        self, fingerprint: str, scorer: str, model: str, prompt: str | None, axis: str
    ) -> Calibration | None:
        """The entry fitted for exactly this rubric content, scorer, model, prompt and axis."""
        wanted = CalibrationKey(
            fingerprint=fingerprint, scorer=scorer, model=model, prompt=prompt, axis=axis
        )
        return next((e for e in self.entries if e.key == wanted), None)


# --------------------------------------------------------------------------- math


def apply_temperature(logits: ArrayLike, temperature: float) -> FloatArray:
    """Row-wise softmax(logits / temperature) for a vector or a matrix."""
    z = np.asarray(logits, dtype=np.float64) / temperature
    z = z - z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    out: FloatArray = e / e.sum(axis=-1, keepdims=True)
    return out


def log_softmax(logits: FloatArray) -> FloatArray:
    z = logits - logits.max(axis=1, keepdims=True)
    out: FloatArray = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    return out


def logits_from_scores(scores: ArrayLike) -> FloatArray:
    out: FloatArray = np.log(np.maximum(np.asarray(scores, dtype=np.float64), _EPS))
    return out


def set_nll(logits: FloatArray, gold: NDArray[np.bool_], temperature: float) -> float:
    """Mean -log P(gold set) under softmax(logits / t); one gold label is the usual NLL."""
    lp = log_softmax(np.asarray(logits, dtype=np.float64) / temperature)
    masked = np.where(gold, lp, -np.inf)
    top = masked.max(axis=1, keepdims=True)
    in_gold = top[:, 0] + np.log(np.exp(masked - top).sum(axis=1))
    return float(-in_gold.mean())


def fit_temperature(logits: ArrayLike, y_true: ArrayLike) -> float:
    """The temperature minimising the mean NLL of the gold label(s).

    ``y_true``: gold indices (n,) or a boolean gold matrix (n, k) for multi-label tickets, where
    the likelihood is that of the top label falling in the gold set. Golden-section search over
    log t: the single-label NLL is convex in 1/t, and the set version is unimodal in practice;
    unlike Newton it cannot diverge when logits are nearly flat.
    """
    z = np.asarray(logits, dtype=np.float64)
    y = np.asarray(y_true)
    if y.ndim == 1:
        gold = np.zeros(z.shape, dtype=bool)
        gold[np.arange(y.size), y.astype(np.int64)] = True
    else:
        gold = y.astype(bool)
    keep = gold.any(axis=1)
    z, gold = z[keep], gold[keep]
    if z.shape[0] == 0:
        return 1.0
    z = z - z.max(axis=1, keepdims=True)
    # bounds: perfectly separated data pushes t to 0; no real scorer needs more than 100x
    lo, hi = math.log(1e-2), math.log(1e2)
    ratio = (math.sqrt(5.0) - 1.0) / 2.0
    a, b = hi - ratio * (hi - lo), lo + ratio * (hi - lo)
    fa, fb = set_nll(z, gold, math.exp(a)), set_nll(z, gold, math.exp(b))
    for _ in range(60):
        if fa <= fb:
            hi, b, fb = b, a, fa
            a = hi - ratio * (hi - lo)
            fa = set_nll(z, gold, math.exp(a))
        else:
            lo, a, fa = a, b, fb
            b = lo + ratio * (hi - lo)
            fb = set_nll(z, gold, math.exp(b))
    return math.exp((lo + hi) / 2.0)


def confidence_loss(logits: FloatArray, correct: NDArray[np.bool_], temperature: float) -> float:
    """Binary cross-entropy of the top-label confidence against whether the top label is right."""
    conf = np.clip(apply_temperature(logits, temperature).max(axis=1), 1e-12, 1 - 1e-12)
    return float(-np.where(correct, np.log(conf), np.log1p(-conf)).mean())


def fit_temperature_to_confidence(logits: ArrayLike, correct: ArrayLike) -> float:
    """The temperature that makes the top-label confidence match how often the top label is
    right (what routing thresholds act on, and what ECE measures).

    Unlike the NLL fit it needs no gold label per row, so tickets no rubric label fits (always
    wrong) take part, and multi-label tickets count as right when the top label is one of
    theirs. The loss is not guaranteed convex in t: a coarse grid finds the basin, then
    golden-section search refines it.
    """
    z = np.asarray(logits, dtype=np.float64)
    ok = np.asarray(correct, dtype=bool)
    if z.shape[0] == 0 or ok.all() or not ok.any():
        return 1.0
    z = z - z.max(axis=1, keepdims=True)
    grid = np.linspace(math.log(1e-2), math.log(1e2), 61)
    losses = [confidence_loss(z, ok, math.exp(g)) for g in grid]
    best = int(np.argmin(losses))
    lo, hi = grid[max(best - 1, 0)], grid[min(best + 1, grid.size - 1)]
    ratio = (math.sqrt(5.0) - 1.0) / 2.0
    for _ in range(40):
        a, b = hi - ratio * (hi - lo), lo + ratio * (hi - lo)
        if confidence_loss(z, ok, math.exp(a)) <= confidence_loss(z, ok, math.exp(b)):
            hi = b
        else:
            lo = a
    return math.exp((lo + hi) / 2.0)


def label_thresholds(
    confidence: ArrayLike,
    predicted: Sequence[str],
    correct: ArrayLike,
    precision: float,
    min_count: int = 5,
) -> dict[str, float]:
    """Per predicted label, the lowest confidence at which that label's predictions reach the
    target precision. Labels with fewer than ``min_count`` predictions are left out (too few
    to say); a label that never reaches the target gets 1.0 (only certain predictions pass)."""
    conf = np.asarray(confidence, dtype=np.float64)
    ok = np.asarray(correct, dtype=bool)
    pred = np.asarray(predicted, dtype=object)
    out: dict[str, float] = {}
    for label in sorted(set(predicted)):
        mask = pred == label
        if int(mask.sum()) < min_count:
            continue
        found = threshold_for_precision(conf[mask], ok[mask], precision, min_count=min_count)
        out[label] = round(found, 4) if found is not None else 1.0
    return out


# --------------------------------------------------------------------------- files


def calibration_path(rubric_path: Path) -> Path:
    """``rubrics/support.yaml`` → ``rubrics/support.calibration.json``."""
    return rubric_path.with_name(rubric_path.stem + _SUFFIX)


def read_calibration_file(rubric_path: Path) -> CalibrationFile:
    path = calibration_path(rubric_path)
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
) -> Calibration | None:
    """The calibration fitted for exactly this rubric content, scorer, model and prompt.

    A rubric edit changes the fingerprint, so a stale calibration is never applied.
    """
    return read_calibration_file(rubric_path).lookup(fingerprint, scorer, model, prompt, axis)


class CalibrationStore:
    """Calibration files beside rubric files, for the request path: each file is parsed once
    and re-read only when its mtime or size changes, so ``rubric calibrate`` takes effect on a
    running server without a restart (as rubric edits do)."""

    def __init__(self) -> None:
        self._files: dict[Path, tuple[tuple[int, int], CalibrationFile]] = {}
        self._lock = threading.Lock()

    def find(
        self,
        rubric_path: Path,
        fingerprint: str,
        scorer: str,
        model: str,
        prompt: str | None,
        axis: str = "category",
    ) -> Calibration | None:
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
        return cached[1].lookup(fingerprint, scorer, model, prompt, axis)


def save_calibration(rubric_path: Path, calibration: Calibration) -> Path:
    """Add or replace the entry with the same key; written atomically (a server may be reading)."""
    path = calibration_path(rubric_path)
    current = read_calibration_file(rubric_path)
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
