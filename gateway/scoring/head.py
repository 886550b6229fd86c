"""Trained heads: a logistic-regression layer over the embedded encoder, fitted on reviewers'
labels for one rubric axis (``gateway.learning.train``).

``TrainedHead``  the weights and their ``HeadMeta``; ``predict_proba`` over unit embeddings.
``save`` / ``load_head``  ``meta.json`` + ``weights.npz`` (plain arrays, never pickles). Loading
                 checks the weights against their recorded hash and the encoder against the one
                 the head was trained on: a head over another encoder's vectors is nonsense.
``HeadScorer``   the head as a ``Scorer`` of its one axis, with the thresholds fitted on its
                 cross-validated predictions (``ScoreResult.thresholds``). A head of one axis
                 cannot answer the rubric's other axes: ``HeadCascade`` asks its inner scorer.
"""

from __future__ import annotations

import hashlib
import shutil
import uuid
import zipfile
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

import anyio.to_thread
import numpy as np
from numpy.typing import NDArray
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from gateway.errors import InvalidRequestError, ModelFileError
from gateway.rubrics import RubricSet, Thresholds
from gateway.scoring.base import AxisScores, ScoreResult, config_fingerprint

META_FILE = "meta.json"
WEIGHTS_FILE = "weights.npz"
HEAD_SCORER = "head"

Floats = NDArray[np.float64]


class Embedder(Protocol):
    """What a head needs of an encoder (``Encoder``, or a memoising wrapper of it in a bench)."""

    @property
    def sha256(self) -> str: ...

    def embed(self, texts: Sequence[str]) -> NDArray[np.float32]: ...


def head_id(rubric: str, axis: str, version: int) -> str:
    return f"head/{rubric}.{axis}@v{version}"


class HeadMeta(BaseModel):
    """Everything about a trained head but its weights (``meta.json``)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str
    rubric: str
    axis: str
    version: int = Field(ge=1)
    fingerprint: str = Field(description="the rubric content it was trained for")
    encoder_sha256: str = Field(description="the encoder whose embeddings it was trained on")
    labels: list[str] = Field(min_length=2, description="the class order of the weights' rows")
    thresholds: Thresholds = Field(description="fitted on its cross-validated predictions")
    C: float = Field(gt=0)
    trained_at: datetime
    labels_used: int = Field(ge=0, description="human labels")
    weak_labels_used: int = Field(ge=0, description="rows from the rubric's own label texts")
    per_label: dict[str, int] = Field(description="human labels per label")
    cv_accuracy: float
    cv_macro_f1: float
    weights_sha256: str


def weights_digest(coef: Floats, intercept: Floats) -> str:
    """Hash of the weights' values (shape, dtype and bytes), not of the file that holds them."""
    digest = hashlib.sha256()
    for array in (coef, intercept):
        canonical = np.ascontiguousarray(array, dtype="<f8")
        digest.update(repr(canonical.shape).encode())
        digest.update(canonical.tobytes())
    return digest.hexdigest()


def unit_rows(embeddings: NDArray[np.floating[Any]]) -> Floats:
    """Rows scaled to unit length, as the head is trained (the encoder's already are)."""
    x = np.asarray(embeddings, dtype=np.float64)
    out: Floats = x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
    return out


def softmax_rows(logits: Floats) -> Floats:
    shifted = logits - logits.max(axis=1, keepdims=True)
    exp = np.exp(shifted)
    out: Floats = exp / exp.sum(axis=1, keepdims=True)
    return out


def relative_raw(scores: Mapping[str, float]) -> dict[str, float]:
    """A head's ``raw``: each label's probability over the top one's (the top is 1.0, so it
    fits; a head has no per-label yes-probability of its own)."""
    top = max(scores.values())
    return {name: value / top if top > 0 else 0.0 for name, value in scores.items()}


class TrainedHead:
    """Multinomial logistic regression: ``coef`` (labels × dim) and ``intercept`` (labels).
    A two-label head has two rows too (``w/2`` and ``-w/2`` of the binary fit), so one softmax
    serves every head."""

    def __init__(self, meta: HeadMeta, coef: Floats, intercept: Floats) -> None:
        coef = np.asarray(coef, dtype=np.float64)
        intercept = np.asarray(intercept, dtype=np.float64)
        k = len(meta.labels)
        if coef.ndim != 2 or coef.shape[0] != k or coef.shape[1] == 0:
            raise ValueError(f"coef has shape {coef.shape}; {k} labels need ({k}, dim)")
        if intercept.shape != (k,):
            raise ValueError(f"intercept has shape {intercept.shape}; {k} labels need ({k},)")
        self.meta = meta
        self.coef = coef
        self.intercept = intercept

    @property
    def dim(self) -> int:
        return int(self.coef.shape[1])

    def logits(self, embeddings: NDArray[np.floating[Any]]) -> Floats:
        x = unit_rows(embeddings)
        if x.ndim != 2 or x.shape[1] != self.dim:
            raise ValueError(f"embeddings of shape {x.shape}; this head takes (n, {self.dim})")
        out: Floats = x @ self.coef.T + self.intercept
        return out

    def predict_proba(self, embeddings: NDArray[np.floating[Any]]) -> Floats:
        """One row per embedding: probabilities over ``meta.labels`` (each row sums to 1)."""
        if len(embeddings) == 0:
            return np.zeros((0, len(self.meta.labels)), dtype=np.float64)
        return softmax_rows(self.logits(embeddings))

    def save(self, directory: Path) -> None:
        """Write ``meta.json`` and ``weights.npz`` into a fresh sibling folder, then rename it
        into place: a reader sees the old head or the new one, never half of each."""
        directory.parent.mkdir(parents=True, exist_ok=True)
        tmp = directory.parent / f".{directory.name}.{uuid.uuid4().hex[:8]}.tmp"
        tmp.mkdir()
        old: Path | None = None
        try:
            (tmp / META_FILE).write_text(self.meta.model_dump_json(indent=2) + "\n")
            with (tmp / WEIGHTS_FILE).open("wb") as f:
                np.savez(f, coef=self.coef, intercept=self.intercept)
            if directory.exists():  # an earlier, unregistered attempt at this version
                old = directory.parent / f".{directory.name}.{uuid.uuid4().hex[:8]}.old"
                directory.rename(old)
            tmp.replace(directory)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            if old is not None and not directory.exists():
                old.rename(directory)
            raise
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)


def load_head(directory: Path, *, encoder_sha256: str) -> TrainedHead:
    """A saved head, checked: its files parse, its weights match their recorded hash and its
    shapes, and it was trained on the embeddings of the encoder given. ``ModelFileError``
    names the file otherwise."""
    meta_path = directory / META_FILE
    weights_path = directory / WEIGHTS_FILE
    try:
        meta = HeadMeta.model_validate_json(meta_path.read_bytes())
    except OSError as exc:
        raise ModelFileError(f"head file {meta_path} cannot be read: {exc.strerror}") from exc
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or '(file)'}: {e['msg']}"
            for e in exc.errors(include_input=False, include_url=False)
        )
        raise ModelFileError(f"head file {meta_path} is not a valid head: {problems}") from exc
    if meta.encoder_sha256 != encoder_sha256:
        raise ModelFileError(
            f"head {meta.id} ({directory}) was trained on another encoder's embeddings "
            f"(encoder {meta.encoder_sha256[:12]}, this one is {encoder_sha256[:12]}); retrain "
            "it (rubric train)"
        )
    try:
        with np.load(weights_path, allow_pickle=False) as npz:
            missing = {"coef", "intercept"} - set(npz.files)
            if missing:
                raise ModelFileError(
                    f"head file {weights_path} lacks array(s) {', '.join(sorted(missing))}"
                )
            coef = npz["coef"]
            intercept = npz["intercept"]
    except ModelFileError:
        raise
    except OSError as exc:
        raise ModelFileError(
            f"head file {weights_path} cannot be read: {exc.strerror or exc}"
        ) from exc
    except (ValueError, zipfile.BadZipFile, EOFError) as exc:
        # allow_pickle=False refuses object arrays with a ValueError: never unpickle a file
        raise ModelFileError(f"head file {weights_path} is not a weights file: {exc}") from exc
    if coef.dtype.kind != "f" or intercept.dtype.kind != "f":
        raise ModelFileError(f"head file {weights_path} holds non-float arrays")
    if weights_digest(coef, intercept) != meta.weights_sha256:
        raise ModelFileError(
            f"head file {weights_path} does not match the weights_sha256 in {meta_path}; "
            "the head was modified after training: retrain it (rubric train)"
        )
    if not (np.isfinite(coef).all() and np.isfinite(intercept).all()):
        raise ModelFileError(f"head file {weights_path} holds non-finite weights")
    try:
        return TrainedHead(meta, coef, intercept)
    except ValueError as exc:
        raise ModelFileError(f"head file {weights_path}: {exc}") from exc


class HeadScorer:
    """A trained head as a ``Scorer`` of its one rubric axis.

    ``scores`` is the head's distribution; ``raw`` each label's probability relative to the top
    label's (the top is 1, labels nearly tied with it pass the multi-fit floor): a closed-set
    head has no "none fits" of its own; tickets it is unsure of go to the scorer behind it
    (``HeadCascade``). Each result carries the head's own thresholds for its axis.
    """

    name = HEAD_SCORER

    def __init__(self, encoder: Embedder, head: TrainedHead) -> None:
        if encoder.sha256 != head.meta.encoder_sha256:
            raise ModelFileError(
                f"head {head.meta.id} was trained on another encoder's embeddings; retrain it"
            )
        self.encoder = encoder
        self.head = head

    @property
    def meta(self) -> HeadMeta:
        return self.head.meta

    @property
    def axis(self) -> str:
        return self.head.meta.axis

    @property
    def model(self) -> str:
        return self.head.meta.id

    @property
    def prompt(self) -> str | None:
        return None

    @property
    def fingerprint(self) -> str:
        meta = self.head.meta
        return config_fingerprint(
            {
                "head": meta.id,
                "version": meta.version,
                "weights": meta.weights_sha256,
                "encoder": meta.encoder_sha256,
                "thresholds": meta.thresholds.model_dump(),
            }
        )

    @property
    def batches(self) -> bool:
        return True  # one embedding call and one matrix product for the whole batch

    def serves(self, rubric: RubricSet) -> bool:
        """Trained for this rubric content (its labels are this axis' labels)."""
        meta = self.head.meta
        return (
            rubric.name == meta.rubric
            and rubric.fingerprint == meta.fingerprint
            and meta.axis in rubric.axes
            and sorted(rubric.axes[meta.axis].names) == sorted(meta.labels)
        )

    def proba(self, texts: Sequence[str]) -> Floats:
        """The head's probabilities for texts (rows in input order, columns ``meta.labels``)."""
        return self.head.predict_proba(self.encoder.embed(texts))

    def result(self, row: Floats, rubric: RubricSet) -> ScoreResult:
        """One ticket's answer on the head's axis, labels in the rubric's order."""
        meta = self.head.meta
        values = dict(zip(meta.labels, row.tolist(), strict=True))
        names = rubric.axes[meta.axis].names if meta.axis in rubric.axes else meta.labels
        scores = {name: values[name] for name in names}
        return ScoreResult(
            axes={meta.axis: AxisScores(raw=relative_raw(scores), scores=scores)},
            scorer=self.name,
            model=self.model,
            thresholds={meta.axis: meta.thresholds},
        )

    def score_sync(
        self, texts: Sequence[str], rubric: RubricSet, axes: Sequence[str]
    ) -> list[ScoreResult]:
        chosen = rubric.select_axes(list(axes) or None)
        if chosen != [self.axis] or not self.serves(rubric):
            raise InvalidRequestError(
                f"{self.model} answers axis {self.axis!r} of rubric {self.meta.rubric!r} as it "
                f"was trained; asked {chosen} of {rubric.name!r} (HeadCascade asks another "
                "scorer for the rest)"
            )
        return [self.result(row, rubric) for row in self.proba(texts)]

    async def score_many(
        self, texts: Sequence[str], rubric: RubricSet, axes: Sequence[str]
    ) -> list[ScoreResult]:
        return await anyio.to_thread.run_sync(self.score_sync, texts, rubric, axes)
