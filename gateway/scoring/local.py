"""The embedded scorer: how close a ticket is to each label's rubric text.

An encoder measures topical closeness; it does not *answer* a rubric question. So the question
frame ("Is this text about ...?") is stripped to the topic it names, and each label is
represented by its topic, its name and its examples. A label's similarity is the best match
among those texts (examples behave like nearest neighbours).

raw    = logistic(scale * (cos - center))   each label's own yes-probability
scores = softmax(cos / temperature)         the distribution over the axis' labels
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from collections.abc import Sequence

import anyio.to_thread
import numpy as np
from pydantic import BaseModel, ConfigDict

from gateway.config import LocalSettings
from gateway.rubrics import Label, RubricSet
from gateway.scoring.base import AxisScores, ScoreResult, config_fingerprint
from gateway.scoring.distribution import logistic, softmax
from gateway.scoring.encoder import Encoder, Matrix

_QUESTION_FRAME = re.compile(
    r"^\s*(?:is|does|did|was|are|do|has|have|can)\s+"
    r"(?:this|the)\s+(?:text|ticket|message|customer|user|request|sender|email)\s+"
    r"(?:(?:mainly|primarily|mostly)\s+)?"
    r"(?:about|asking\s+about|asking\s+for|asking|mention(?:ing)?|related\s+to|regarding|"
    r"concern(?:ing)?|describ(?:e|ing)|report(?:ing)?|express(?:ing)?|contain(?:ing)?|"
    r"request(?:ing)?|want(?:ing)?|need(?:ing)?)?\s*",
    re.IGNORECASE,
)


def topic_of(rubric: str) -> str:
    """The topic a yes/no rubric question names: what the encoder can compare against."""
    topic = _QUESTION_FRAME.sub("", rubric).strip().rstrip("?").strip()
    return topic or rubric


def label_texts(label: Label) -> list[str]:
    return [topic_of(label.rubric), label.name.replace("_", " ").replace("-", " "), *label.examples]


class _AxisIndex(BaseModel):
    """Embedded label texts of one axis: row r belongs to label owner[r]."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    names: list[str]
    vectors: Matrix
    owner: list[int]


class LocalScorer:
    """Scorer over the embedded encoder. CPU-bound work runs in a worker thread."""

    name = "local"

    def __init__(self, encoder: Encoder, params: LocalSettings, cache_size: int = 64) -> None:
        self._encoder = encoder
        self.params = params
        self._indexes: OrderedDict[str, dict[str, _AxisIndex]] = OrderedDict()
        self._cache_size = cache_size
        self._lock = threading.Lock()

    @property
    def encoder(self) -> Encoder:
        """The sentence encoder it scores with (trained heads embed with the same one)."""
        return self._encoder

    @property
    def model(self) -> str:
        return self._encoder.model_id

    @property
    def prompt(self) -> str | None:
        return None

    @property
    def fingerprint(self) -> str:
        return config_fingerprint(self.params.fingerprint_fields())

    @property
    def batches(self) -> bool:
        return True  # one call of 256 tickets costs a fraction of 256 calls of one

    def _index(self, rubric: RubricSet) -> dict[str, _AxisIndex]:
        """Label embeddings, computed once per rubric fingerprint."""
        key = rubric.fingerprint
        with self._lock:
            found = self._indexes.get(key)
            if found is not None:
                self._indexes.move_to_end(key)
                return found
        index: dict[str, _AxisIndex] = {}
        for axis_name, axis in rubric.axes.items():
            texts: list[str] = []
            owner: list[int] = []
            for i, label in enumerate(axis.labels):
                for text in label_texts(label):
                    texts.append(text)
                    owner.append(i)
            index[axis_name] = _AxisIndex(
                names=axis.names, vectors=self._encoder.embed(texts), owner=owner
            )
        with self._lock:
            self._indexes[key] = index
            while len(self._indexes) > self._cache_size:
                self._indexes.popitem(last=False)
        return index

    def similarities(self, texts: Sequence[str], rubric: RubricSet, axis: str) -> Matrix:
        """Cosine of each text to each label of an axis (best match over the label's texts)."""
        index = self._index(rubric)[axis]
        return self._label_max(self._encoder.embed(texts) @ index.vectors.T, index)

    @staticmethod
    def _label_max(pair_cos: Matrix, index: _AxisIndex) -> Matrix:
        out = np.full((pair_cos.shape[0], len(index.names)), -1.0, dtype=np.float32)
        owner = np.asarray(index.owner)
        for label in range(len(index.names)):
            out[:, label] = pair_cos[:, owner == label].max(axis=1)
        return out

    def score_sync(
        self, texts: Sequence[str], rubric: RubricSet, axes: Sequence[str]
    ) -> list[ScoreResult]:
        index = self._index(rubric)
        embedded = self._encoder.embed(texts)
        per_axis: dict[str, tuple[list[str], Matrix]] = {}
        for axis in axes:
            axis_index = index[axis]
            per_axis[axis] = (
                axis_index.names,
                self._label_max(embedded @ axis_index.vectors.T, axis_index),
            )
        p = self.params
        results = []
        for row in range(len(texts)):
            scored = {}
            for axis, (names, cos) in per_axis.items():
                sims = cos[row].astype(np.float64)
                raw = logistic(p.raw_scale * (sims - p.raw_center))
                dist = softmax(sims / p.temperature)
                scored[axis] = AxisScores(
                    raw=dict(zip(names, raw.tolist(), strict=True)),
                    scores=dict(zip(names, dist.tolist(), strict=True)),
                )
            results.append(ScoreResult(axes=scored, scorer=self.name, model=self.model))
        return results

    async def score_many(
        self, texts: Sequence[str], rubric: RubricSet, axes: Sequence[str]
    ) -> list[ScoreResult]:
        return await anyio.to_thread.run_sync(self.score_sync, texts, rubric, axes)

    def near_duplicates(
        self, rubric: RubricSet, threshold: float = 0.85
    ) -> list[tuple[str, str, str, float]]:
        """Pairs of labels (axis, a, b, cosine) whose rubric topics say nearly the same thing."""
        found = []
        for axis_name, axis in rubric.axes.items():
            vectors = self._encoder.embed([topic_of(label.rubric) for label in axis.labels])
            sims = vectors @ vectors.T
            for i in range(len(axis.labels)):
                for j in range(i + 1, len(axis.labels)):
                    if sims[i, j] >= threshold:
                        found.append(
                            (axis_name, axis.labels[i].name, axis.labels[j].name, float(sims[i, j]))
                        )
        return found
