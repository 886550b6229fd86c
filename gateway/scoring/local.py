"""The embedded scorer: how close a ticket is to each label's rubric text.

An encoder measures topical closeness; it does not *answer* a rubric question. So the question
frame ("Is this text about ...?", frames.py) is stripped to the topic it names, and each label is
represented by its topic, its name and its examples. A label's similarity is the best match
among those texts (examples behave like nearest neighbours).

raw    = logistic(scale * (cos - center))   each label's own yes-probability
scores = softmax(cos / temperature)         the distribution over the axis' labels
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from typing import Literal

import anyio.to_thread
import numpy as np
from pydantic import BaseModel, ConfigDict

from gateway.config import LocalSettings
from gateway.rubrics import Label, RubricSet
from gateway.schemas import Evidence
from gateway.scoring.base import AxisScores, ScoreResult, config_fingerprint
from gateway.scoring.distribution import logistic, softmax
from gateway.scoring.encoder import Encoder, Matrix
from gateway.scoring.frames import topic_of
from gateway.scoring.head import TrainedHead
from gateway.scoring.signals import signal_axes, signal_scores, signal_thresholds
from gateway.scoring.windows import WindowPlan, label_token_weights, plan_windows

TextKind = Literal["topic", "name", "example"]


def label_texts(label: Label) -> list[str]:
    return [topic_of(label.rubric), label.name.replace("_", " ").replace("-", " "), *label.examples]


def label_text_kinds(label: Label) -> list[TextKind]:
    examples: list[TextKind] = ["example"] * len(label.examples)
    return ["topic", "name", *examples]  # in label_texts' order


class _AxisIndex(BaseModel):
    """Embedded label texts of one axis: row r belongs to label owner[r]."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    names: list[str]
    texts: list[str]  # the rubric's own texts (never a ticket's): evidence names them
    kinds: list[TextKind]
    vectors: Matrix
    owner: list[int]
    # token -> weight over the label texts: which windows of a long ticket to read
    token_weights: dict[int, float]


class LocalScorer:
    """Scorer over the embedded encoder. CPU-bound work runs in a worker thread."""

    name = "local"

    def __init__(
        self,
        encoder: Encoder,
        params: LocalSettings,
        cache_size: int = 64,
        signals: Mapping[str, TrainedHead] | None = None,
    ) -> None:
        self._encoder = encoder
        self.params = params
        # packaged heads (signals.py) answering the axes that ask for them, by signal
        self._signals = dict(signals or {})
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
        heads = {name: head.meta.weights_sha256 for name, head in sorted(self._signals.items())}
        fields = self.params.fingerprint_fields()
        # a cached answer is the answer of these heads too (unchanged without any)
        return config_fingerprint({**fields, "signals": heads} if heads else fields)

    @property
    def signals(self) -> dict[str, TrainedHead]:
        """The packaged heads it serves, by signal name."""
        return dict(self._signals)

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
            kinds: list[TextKind] = []
            owner: list[int] = []
            for i, label in enumerate(axis.labels):
                texts += label_texts(label)
                kinds += label_text_kinds(label)
                owner += [i] * (len(texts) - len(owner))
            tokens = self._encoder.token_ids(texts)
            per_label = [
                [t for row, o in zip(tokens, owner, strict=True) if o == i for t in row]
                for i in range(len(axis.labels))
            ]
            index[axis_name] = _AxisIndex(
                names=axis.names,
                texts=texts,
                kinds=kinds,
                vectors=self._encoder.embed(texts),
                owner=owner,
                token_weights=label_token_weights(per_label),
            )
        with self._lock:
            self._indexes[key] = index
            while len(self._indexes) > self._cache_size:
                self._indexes.popitem(last=False)
        return index

    def similarities(self, texts: Sequence[str], rubric: RubricSet, axis: str) -> Matrix:
        """Cosine of each text to each label of an axis (best match over the label's texts;
        for a long ticket, over its windows read)."""
        cos, _, _, _ = self._similarities(texts, rubric, [axis])
        return cos[axis]

    def label_cosines(self, vectors: Matrix, rubric: RubricSet, axis: str) -> Matrix:
        """Cosine of embedded rows (``encoder.embed`` or ``embed_windows``) to each label of
        an axis, the best match over the label's texts."""
        index = self._index(rubric)[axis]
        return self._label_max(vectors @ index.vectors.T, index)

    @staticmethod
    def _label_max(pair_cos: Matrix, index: _AxisIndex) -> Matrix:
        out = np.full((pair_cos.shape[0], len(index.names)), -1.0, dtype=np.float32)
        owner = np.asarray(index.owner)
        for label in range(len(index.names)):
            out[:, label] = pair_cos[:, owner == label].max(axis=1)
        return out

    def _plans(
        self, texts: Sequence[str], indexes: Sequence[_AxisIndex]
    ) -> list[WindowPlan | None]:
        """Each long ticket's windows to read; None for a ticket that fits one window."""
        p = self.params
        if p.max_windows == 1:
            return [None] * len(texts)  # the first max_tokens only
        weights = [ix.token_weights for ix in indexes]
        plans: list[WindowPlan | None] = []
        for text in texts:
            windows = self._encoder.windows(text, p.window_tokens, p.window_stride)
            plans.append(None if windows is None else plan_windows(windows, weights, p.max_windows))
        return plans

    def _similarities(
        self, texts: Sequence[str], rubric: RubricSet, axes: Sequence[str]
    ) -> tuple[dict[str, Matrix], dict[str, list[Evidence]], list[WindowPlan | None], list[Matrix]]:
        """Per axis, each text's best cosine to each label, and what matched its top label;
        and each text's embedded rows. A long ticket's windows are embedded in one batch with
        the short tickets and scored each; its label's similarity is the best window's."""
        index = self._index(rubric)
        plans = self._plans(texts, [index[a] for a in axes])
        short = [t for t, plan in zip(texts, plans, strict=True) if plan is None]
        windows = [w for plan in plans if plan is not None for w in plan.windows]
        rows = np.concatenate(
            [self._encoder.embed(short), self._encoder.embed_windows(windows)], axis=0
        )
        # rows of text i: its own row, or its windows' rows (after every short text's)
        spans: list[slice] = []
        next_short, next_window = 0, len(short)
        for plan in plans:
            if plan is None:
                spans.append(slice(next_short, next_short + 1))
                next_short += 1
            else:
                spans.append(slice(next_window, next_window + len(plan.windows)))
                next_window += len(plan.windows)
        cosines: dict[str, Matrix] = {}
        evidence: dict[str, list[Evidence]] = {}
        for axis in axes:
            ix = index[axis]
            pair = rows @ ix.vectors.T  # row x label text
            per_row = self._label_max(pair, ix)
            cosines[axis] = np.stack([per_row[span].max(axis=0) for span in spans])
            evidence[axis] = [
                _evidence(ix, pair[span], plan is not None)
                for span, plan in zip(spans, plans, strict=True)
            ]
        return cosines, evidence, plans, [rows[span] for span in spans]

    def score_sync(
        self, texts: Sequence[str], rubric: RubricSet, axes: Sequence[str]
    ) -> list[ScoreResult]:
        if not texts:
            return []
        cos, evidence, plans, rows = self._similarities(texts, rubric, axes)
        names = {axis: self._index(rubric)[axis].names for axis in axes}
        by_head = signal_axes(rubric, list(axes), self._signals)
        thresholds = signal_thresholds(rubric, by_head, self._signals)
        p = self.params
        results = []
        for row, plan in enumerate(plans):
            scored = {}
            for axis in axes:
                signal = rubric.axes[axis].signal
                if axis in by_head and signal is not None:
                    scored[axis] = signal_scores(self._signals[signal], rows[row], names[axis])
                    continue
                sims = cos[axis][row].astype(np.float64)
                raw = logistic(p.raw_scale * (sims - p.raw_center))
                dist = softmax(sims / p.temperature)
                scored[axis] = AxisScores(
                    raw=dict(zip(names[axis], raw.tolist(), strict=True)),
                    scores=dict(zip(names[axis], dist.tolist(), strict=True)),
                    evidence=evidence[axis][row],
                )
            results.append(
                ScoreResult(
                    axes=scored,
                    scorer=self.name,
                    model=self.model,
                    reading=None if plan is None else plan.reading,
                    thresholds=thresholds,
                )
            )
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


def _evidence(index: _AxisIndex, pair: Matrix, windowed: bool) -> Evidence:
    """The label text (and, for a long ticket, the window) behind the top label's cosine."""
    window, column = np.unravel_index(int(np.argmax(pair)), pair.shape)
    return Evidence(
        source="embedding",
        label=index.names[index.owner[column]],
        matched=index.texts[column],
        matched_kind=index.kinds[column],
        similarity=round(float(pair[window, column]), 4),
        window=int(window) if windowed else None,
    )
