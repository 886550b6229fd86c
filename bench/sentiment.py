"""Sentiment signals compared, offline: VADER (a lexicon) and a logistic-regression head on the
embedded encoder's embeddings, against the majority class.

Fit: the head on TweetEval sentiment's larger split (``../shared/data/tweeteval_sentiment/
test.jsonl``, 12,284 real tweets); measured on its other split (``val.jsonl``, 2,000) and on
``evals/sentiment/support_tickets.jsonl`` (40 support-like tickets written for this project,
nothing tuned on them). TweetEval's texts stay in ../shared (task terms: never copied here).

    .venv/bin/python bench/sentiment.py [--limit N]
"""

from __future__ import annotations

import argparse
import json
import time
from collections import Counter
from pathlib import Path

import numpy as np
from sklearn.linear_model import LogisticRegression
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
    parser = argparse.ArgumentParser()
    parser.add_argument("--limit", type=int, default=None, help="fit on the first N tweets")
    args = parser.parse_args()
    fit_x, fit_y = _rows(TWEETS / "test.jsonl", args.limit)
    sets = {
        "TweetEval val (2,000)": _rows(TWEETS / "val.jsonl"),
        "support tickets (40)": _rows(TICKETS),
    }
    encoder = build_local_scorer(Settings().local).encoder
    t0 = time.perf_counter()
    fit_emb = np.vstack([encoder.embed(fit_x[i : i + 64]) for i in range(0, len(fit_x), 64)])
    print(f"embedded {len(fit_x)} tweets in {time.perf_counter() - t0:.0f} s")
    head = LogisticRegression(max_iter=2000, C=1.0, class_weight="balanced")
    head.fit(fit_emb, fit_y)
    majority = Counter(fit_y).most_common(1)[0][0]
    print("| signal | accuracy | macro-F1 | negative P/R/F1 | neutral P/R/F1 | positive P/R/F1 |")
    print("|---|---|---|---|---|---|")
    for set_name, (texts, gold) in sets.items():
        emb = np.vstack([encoder.embed(texts[i : i + 64]) for i in range(0, len(texts), 64)])
        print(f"| **{set_name}** | | | | | |")
        print(_report(f"majority ({majority})", gold, [majority] * len(gold)))
        print(_report("VADER 3.3.2 (compound ±0.05)", gold, _vader(texts)))
        print(_report("LR head on MiniLM (fit: TweetEval test)", gold, list(head.predict(emb))))


if __name__ == "__main__":
    main()
