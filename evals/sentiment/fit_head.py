"""Fit the packaged sentiment head (``gateway/models/signals/sentiment/``): the learning loop's
multinomial logistic regression (``fit_logistic``) on the embedded encoder's embeddings of
TweetEval sentiment's larger split, thresholds fitted on its cross-validated predictions as for
any trained head (``fitted_thresholds``).

    .venv/bin/python evals/sentiment/fit_head.py [--data ../shared/data/tweeteval_sentiment]

Classes are weighted to balance: the head must not carry the tweets' class mix (48% neutral)
into an inbox whose mix is unknown, and the target is macro-F1 (in cross-validation on the
fitting split, whose mix it shares, unweighted scores 0.008 higher; that is the split's prior,
not skill). The regularisation is chosen by 5-fold cross-validated macro-F1 on the fitting split
alone; the other split (val) and the written support tickets are measured by
``bench/sentiment.py``, never looked at here. Only weights leave this script: TweetEval's texts
stay in ../shared (its terms: fit models inside the project, never copy the texts).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from sklearn.model_selection import StratifiedKFold

from gateway.config import Settings
from gateway.evals import macro_f1_from_arrays
from gateway.learning.train import TrainOptions, fit_logistic, fitted_thresholds
from gateway.rubrics.fields import SIGNAL_LABELS
from gateway.scoring import HeadMeta, TrainedHead, build_local_scorer
from gateway.scoring.head import softmax_rows, unit_rows, weights_digest
from gateway.scoring.signals import PACKAGED

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT.parent / "shared" / "data" / "tweeteval_sentiment"
LABELS = list(SIGNAL_LABELS["sentiment"])
GRID_C = (0.3, 1.0, 3.0, 10.0)


def _balanced(y: np.ndarray) -> np.ndarray:
    counts = np.bincount(y, minlength=len(LABELS))
    out: np.ndarray = len(y) / (len(LABELS) * counts[y])
    return out


def _cv(x: np.ndarray, y: np.ndarray, c: float) -> np.ndarray:
    """Out-of-fold probabilities (5 stratified folds)."""
    oof = np.zeros((len(y), len(LABELS)))
    for train, test in StratifiedKFold(5, shuffle=True, random_state=0).split(x, y):
        coef, intercept = fit_logistic(
            x[train], y[train], _balanced(y[train]), len(LABELS), c=c, seed=0
        )
        oof[test] = softmax_rows(x[test] @ coef.T + intercept)
    return oof


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--out", type=Path, default=PACKAGED / "sentiment")
    parser.add_argument(
        "--cache", type=Path, default=None, help="keep the split's embeddings here (.npy)"
    )
    args = parser.parse_args()
    rows = [json.loads(line) for line in (args.data / "test.jsonl").read_text().splitlines()]
    texts = [r["text"] for r in rows]
    y = np.array([LABELS.index(str(r["label"])) for r in rows], dtype=np.int64)

    encoder = build_local_scorer(Settings().local).encoder
    data_digest = hashlib.sha256(
        "\n".join(f"{r['id']}\t{r['label']}" for r in rows).encode()
    ).hexdigest()
    name = f"tweeteval_{data_digest[:12]}_{encoder.sha256[:12]}.npy"
    cached = None if args.cache is None else args.cache / name
    if cached is not None and cached.exists():
        x = unit_rows(np.load(cached))
    else:
        started = time.perf_counter()
        batches = [encoder.embed(texts[i : i + 64]) for i in range(0, len(texts), 64)]
        print(f"embedded {len(texts)} tweets in {time.perf_counter() - started:.0f} s")
        x = unit_rows(np.vstack(batches))
        if cached is not None:
            cached.parent.mkdir(parents=True, exist_ok=True)
            np.save(cached, x)

    best: tuple[float, float, np.ndarray] | None = None
    for c in GRID_C:
        oof = _cv(x, y, c)
        f1 = macro_f1_from_arrays(y, oof.argmax(axis=1), len(LABELS))
        print(f"C={c:<5} cv macro-F1 {f1:.3f}")
        if best is None or f1 > best[0]:
            best = (f1, c, oof)
    assert best is not None
    f1, c, oof = best
    predicted = oof.argmax(axis=1)
    thresholds = fitted_thresholds(oof.max(axis=1), predicted == y, TrainOptions())
    coef, intercept = fit_logistic(x, y, _balanced(y), len(LABELS), c=c, seed=0)
    meta = HeadMeta(
        id="head/signals.sentiment@v1",
        rubric="signals",
        axis="sentiment",
        version=1,
        fingerprint=f"tweeteval-sentiment:test:{data_digest[:16]}",
        encoder_sha256=encoder.sha256,
        labels=LABELS,
        thresholds=thresholds,
        C=c,
        trained_at=datetime.now(UTC),
        labels_used=len(rows),
        weak_labels_used=0,
        per_label={LABELS[k]: v for k, v in sorted(Counter(y.tolist()).items())},
        cv_accuracy=float((predicted == y).mean()),
        cv_macro_f1=f1,
        weights_sha256=weights_digest(coef, intercept),
    )
    TrainedHead(meta, coef, intercept).save(args.out)
    print(f"chose C={c}: cv macro-F1 {f1:.3f}, thresholds {thresholds}")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
