"""Sentiment signals compared, offline: VADER (a lexicon) and the packaged sentiment head (the
one the gateway serves for ``signal: sentiment`` axes: ``gateway/models/signals/sentiment``,
fitted by ``evals/sentiment/fit_head.py`` on TweetEval sentiment's larger split, 12,284 real
tweets), against the majority class.

Measured on TweetEval's other split (``../shared/data/tweeteval_sentiment/val.jsonl``, 2,000,
never used in fitting) and on ``evals/sentiment/support_tickets.jsonl`` (40 support-like
tickets written for this project, nothing tuned on them). TweetEval's texts stay in ../shared
(task terms: never copied here).

    .venv/bin/python bench/sentiment.py
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
from sklearn.metrics import accuracy_score, f1_score, precision_recall_fscore_support

from gateway.config import Settings
from gateway.scoring import build_local_scorer

ROOT = Path(__file__).resolve().parents[1]
TWEETS = ROOT.parent / "shared" / "data" / "tweeteval_sentiment"
TICKETS = ROOT / "evals" / "sentiment" / "support_tickets.jsonl"
CLASSES = ("negative", "neutral", "positive")


def _rows(path: Path, limit: int | None = None) -> tuple[list[str], list[str]]:
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    rows = rows[:limit] if limit else rows
    return [r["text"] for r in rows], [str(r["label"]) for r in rows]


def _vader(texts: list[str]) -> list[str]:
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    sia = SentimentIntensityAnalyzer()
    out = []
    for t in texts:
        c = sia.polarity_scores(t)["compound"]  # the author's thresholds: +-0.05
        out.append("positive" if c >= 0.05 else "negative" if c <= -0.05 else "neutral")
    return out


def _report(name: str, gold: list[str], pred: list[str]) -> str:
    p, r, f, _ = precision_recall_fscore_support(gold, pred, labels=CLASSES, zero_division=0)
    per = " | ".join(f"{p[i]:.2f}/{r[i]:.2f}/{f[i]:.2f}" for i in range(3))
    macro = f1_score(gold, pred, labels=CLASSES, average="macro", zero_division=0)
    return f"| {name} | {accuracy_score(gold, pred):.3f} | {macro:.3f} | {per} |"


def main() -> None:
    argparse.ArgumentParser(description=__doc__.splitlines()[0]).parse_args()
    sets = {
        "TweetEval val (2,000)": _rows(TWEETS / "val.jsonl"),
        "support tickets (40)": _rows(TICKETS),
    }
    local = build_local_scorer(Settings().local)
    head = local.signals["sentiment"]
    meta = head.meta
    print(
        f"{meta.id}: fitted on {meta.labels_used} tweets, C={meta.C}, cv macro-F1 "
        f"{meta.cv_macro_f1:.3f}, thresholds {meta.thresholds}"
    )
    majority = max(meta.per_label, key=meta.per_label.__getitem__)  # of the fitting split
    print("| signal | accuracy | macro-F1 | negative P/R/F1 | neutral P/R/F1 | positive P/R/F1 |")
    print("|---|---|---|---|---|---|")
    for set_name, (texts, gold) in sets.items():
        t0 = time.perf_counter()
        emb = np.vstack([local.encoder.embed(texts[i : i + 64]) for i in range(0, len(texts), 64)])
        seconds = time.perf_counter() - t0
        predicted = [meta.labels[i] for i in head.predict_proba(emb).argmax(axis=1)]
        print(f"| **{set_name}** | | | | | |")
        print(_report(f"majority ({majority})", gold, [majority] * len(gold)))
        print(_report("VADER 3.3.2 (compound ±0.05)", gold, _vader(texts)))
        print(_report("packaged head on MiniLM (served)", gold, predicted))
        print(f"(embedded {len(texts)} in {seconds:.1f} s)")


if __name__ == "__main__":
    main()
