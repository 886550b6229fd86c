"""Fit the embedded scorer's defaults (softmax temperature, raw-score logistic) on shared data.

Uses label names as the label texts (no examples), on splits not used for the README's test
numbers: BANKING77 train (2,000 sampled) and CLINC150 validation (in-scope).

    .venv/bin/python bench/fit_local_params.py
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
from scipy.optimize import minimize, minimize_scalar

from gateway.scoring import Encoder

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def load(path: Path, n: int, seed: int = 0) -> list[dict[str, str]]:
    rows = [json.loads(line) for line in path.open()]
    rows = [r for r in rows if r["label"] != "oos"]
    random.Random(seed).shuffle(rows)
    return rows[:n]


def similarities(enc: Encoder, rows: list[dict[str, str]]) -> tuple[np.ndarray, np.ndarray]:
    labels = sorted({r["label"] for r in rows})
    label_vecs = enc.embed([label.replace("_", " ") for label in labels])
    sims = enc.embed([r["text"] for r in rows]) @ label_vecs.T
    truth = np.array([labels.index(r["label"]) for r in rows])
    return sims.astype(np.float64), truth


def main() -> None:
    enc = Encoder()
    sets = {
        "banking77/train": load(DATA / "banking77" / "train.jsonl", 2000),
        "clinc150/val": load(DATA / "clinc150_oos" / "val.jsonl", 2000),
    }
    all_pairs_x, all_pairs_y, per_set = [], [], []
    for name, rows in sets.items():
        sims, truth = similarities(enc, rows)
        per_set.append((name, sims, truth))
        onehot = np.zeros_like(sims)
        onehot[np.arange(len(truth)), truth] = 1
        all_pairs_x.append(sims.ravel())
        all_pairs_y.append(onehot.ravel())

    def nll(temp: float) -> float:
        total = 0.0
        for _, sims, truth in per_set:
            z = sims / temp
            z -= z.max(axis=1, keepdims=True)
            logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
            total += -logp[np.arange(len(truth)), truth].mean()
        return total / len(per_set)

    best = minimize_scalar(nll, bounds=(0.005, 1.0), method="bounded")
    print(f"softmax temperature minimising NLL: T={best.x:.4f} (NLL {best.fun:.3f})")
    for temp in (0.02, 0.05, round(best.x, 3), 0.1):
        print(f"  T={temp}: NLL {nll(temp):.3f}")

    x = np.concatenate(all_pairs_x)
    y = np.concatenate(all_pairs_y)
    # Class-balanced logistic: raw reads as P(yes) at even prior odds, independent of how many
    # labels an axis has.
    w = np.where(y == 1, 0.5 / y.mean(), 0.5 / (1 - y.mean()))

    def loss(theta: np.ndarray) -> float:
        scale, center = theta
        p = 1 / (1 + np.exp(-scale * (x - center)))
        p = np.clip(p, 1e-9, 1 - 1e-9)
        return float(-(w * (y * np.log(p) + (1 - y) * np.log(1 - p))).mean())

    fit = minimize(loss, x0=np.array([10.0, 0.4]), method="Nelder-Mead")
    scale, center = fit.x
    print(f"raw logistic (balanced): scale={scale:.2f} center={center:.3f}")
    for name, sims, truth in per_set:
        top = sims.argmax(axis=1)
        print(f"  {name}: top-1 accuracy {np.mean(top == truth):.3f}, n={len(truth)}")


if __name__ == "__main__":
    main()
