"""Does a head learn more from k labels per label with the rubric's own texts as weak labels?

    .venv/bin/python bench/train_head.py                        # k = 1 2 3 5 8 10 25, 3 seeds
    .venv/bin/python bench/train_head.py --ks 5 10 --seeds 5

BANKING77 (77 intents; ``evals/suites/banking77.yaml``): for each k, k random train-split
queries per label (per seed), a head trained by ``gateway.learning.train.train_head`` (its
cross-validation included), scored on the whole test split (3,080). Configurations:

    none        human labels only
    zs w=…      + the zero-shot rubric's texts per label (question topic, name) at weight w
    fs w=…      + the few-shot rubric's texts (topic, name, 5 train-split examples); those
                  examples are taken out of the pool the k labels are drawn from

The train pool is subsampled to ``--pool`` queries per label (enough for the largest k, and
few enough to embed in a minute on two cores); every text is embedded once per run. Prints a
table: test macro-F1 (mean ± sd over seeds), and at the head's own fitted auto_route threshold
the share of test tickets it would answer and their precision.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from gateway.config import Settings  # noqa: E402
from gateway.errors import NotEnoughLabelsError  # noqa: E402
from gateway.evals import load_suite, macro_f1_from_arrays  # noqa: E402
from gateway.learning.memo import EmbeddingMemo  # noqa: E402
from gateway.learning.train import (  # noqa: E402
    TrainingExample,
    TrainOptions,
    train_head,
    weak_examples,
)
from gateway.rubrics import RubricSet  # noqa: E402
from gateway.scoring import build_local_scorer  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--ks", type=int, nargs="+", default=[1, 2, 3, 5, 8, 10, 25])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--pool", type=int, default=40, help="train queries kept per label")
    parser.add_argument("--weights", type=float, nargs="+", default=[0.25, 0.5, 1.0])
    parser.add_argument("--C", type=float, default=TrainOptions().C)
    args = parser.parse_args()
    command = " ".join(["python", "bench/train_head.py", *sys.argv[1:]])

    zero_shot = load_suite(ROOT / "evals/suites/banking77.yaml")
    few_shot = load_suite(ROOT / "evals/suites/banking77_fewshot.yaml")
    rubric, axis, labels = zero_shot.rubric, zero_shot.axis, zero_shot.labels
    fs_rubric: RubricSet = few_shot.rubric
    fs_examples = {t for label in fs_rubric.axes[axis].labels for t in label.examples}

    rng = random.Random(1234)
    by_label: dict[str, list[str]] = defaultdict(list)
    for ticket in zero_shot.tickets("train"):
        if ticket.gold and ticket.text not in fs_examples:
            by_label[ticket.gold[0]].append(ticket.text)
    pool = {
        label: rng.sample(texts, min(args.pool, len(texts))) for label, texts in by_label.items()
    }
    test = [t for t in zero_shot.tickets("test") if t.gold]
    gold = np.array([labels.index(t.gold[0]) for t in test])

    encoder = EmbeddingMemo(build_local_scorer(Settings().local).encoder)
    started = time.perf_counter()
    test_emb = encoder.embed([t.text for t in test])
    encoder.embed([text for texts in pool.values() for text in texts])
    encoder.embed([e.text for e in weak_examples(rubric, axis) + weak_examples(fs_rubric, axis)])
    print(
        f"embedded {len(encoder._memo)} texts in {time.perf_counter() - started:.0f} s "
        f"(test {len(test)}, pool {args.pool}/label, weak rows)",
        flush=True,
    )

    configs: list[tuple[str, RubricSet, TrainOptions]] = [
        ("none", rubric, TrainOptions(C=args.C, weak_labels=False, min_per_label=1)),
        *[
            (f"zs w={w:g}", rubric, TrainOptions(C=args.C, weak_weight=w, min_per_label=1))
            for w in args.weights
        ],
        ("fs w=0.5", fs_rubric, TrainOptions(C=args.C, weak_weight=0.5, min_per_label=1)),
    ]
    # (config, k) -> per seed: (macro-F1, auto share, auto precision, cv macro-F1, seconds)
    results: dict[tuple[str, int], list[tuple[float, float, float, float, float]]] = {}
    for k in args.ks:
        for seed in range(args.seeds):
            pick = random.Random(seed * 1000 + k)
            examples = [
                TrainingExample(text=text, label=label)
                for label, texts in pool.items()
                for text in pick.sample(texts, k)
            ]
            for name, rub, options in configs:
                options = options.model_copy(update={"seed": seed})
                try:
                    head, report = train_head(
                        examples, rub, axis, encoder, version=1, options=options
                    )
                except NotEnoughLabelsError as exc:
                    print(f"  k={k} {name}: {exc.message[:100]}")
                    continue
                probs = head.predict_proba(test_emb)
                order = [head.meta.labels.index(label) for label in labels]
                probs = probs[:, order]
                pred = probs.argmax(axis=1)
                f1 = macro_f1_from_arrays(gold, pred, len(labels))
                sure = probs.max(axis=1) >= head.meta.thresholds.auto_route
                share = float(sure.mean())
                precision = float((pred[sure] == gold[sure]).mean()) if sure.any() else float("nan")
                results.setdefault((name, k), []).append(
                    (f1, share, precision, report.cv_macro_f1, report.seconds)
                )
        row = " ".join(
            f"{name}={statistics.mean(r[0] for r in results.get((name, k), [(0,) * 5])):.3f}"
            for name, _, _ in configs
        )
        print(f"k={k}: {row}", flush=True)

    print(f"\n$ {command}")
    print(
        f"BANKING77 test macro-F1 (n={len(test)}), mean ± sd over {args.seeds} seeds; "
        f"C={args.C:g}; train pool {args.pool}/label\n"
    )
    header = f"{'k':>3} " + " ".join(f"{name:>15}" for name, _, _ in configs)
    print(header)
    for k in args.ks:
        cells = []
        for name, _, _ in configs:
            f1s = [r[0] for r in results.get((name, k), [])]
            sd = statistics.stdev(f1s) if len(f1s) > 1 else 0.0
            cells.append(f"{statistics.mean(f1s):.3f} ± {sd:.3f}" if f1s else "-")
        print(f"{k:>3} " + " ".join(f"{c:>15}" for c in cells))
    print("\nat the head's fitted auto_route: test share answered / precision; cv macro-F1; s")
    for k in args.ks:
        cells = []
        for name, _, _ in configs:
            rs = results.get((name, k), [])
            if not rs:
                cells.append("-")
                continue
            share = statistics.mean(r[1] for r in rs)
            precisions = [r[2] for r in rs if r[2] == r[2]]
            precision = statistics.mean(precisions) if precisions else float("nan")
            cv = statistics.mean(r[3] for r in rs)
            secs = statistics.mean(r[4] for r in rs)
            cells.append(f"{share:.2f}/{precision:.2f} {cv:.2f} {secs:.1f}s")
        print(f"{k:>3} " + " ".join(f"{c:>22}" for c in cells))


if __name__ == "__main__":
    main()
