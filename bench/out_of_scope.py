"""Out-of-scope: how well the embedded model's signals rank tickets no label fits below the
ones a label fits (AUROC; 1.0 is a perfect ranking), on

1. CLINC150's test split (1,650 in-scope + 350 out-of-scope queries, the `clinc150` rubric);
2. unknown intents: BANKING77's test split with a fifth of its labels removed from the
   rubric (seeded draws), their tickets now fitting no label.

Signals: `confidence` (the top of the distribution), `best raw` (the best label's own
yes-probability, what `none_fits` is decided on) and the share of out-of-scope tickets the
default floor marks `none_fits`, against the share of in-scope ones it marks.

    python bench/out_of_scope.py            # needs ../shared/data
"""

from __future__ import annotations

import argparse
import json
import random
from pathlib import Path

import numpy as np
import yaml

from gateway.config import Floors, LocalSettings
from gateway.evals import auroc
from gateway.rubrics import RubricSet, parse_rubric
from gateway.scoring import LocalScorer, build_local_scorer

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT.parent / "shared" / "data"


def signals(
    scorer: LocalScorer, rubric: RubricSet, texts: list[str]
) -> tuple[list[str], np.ndarray, np.ndarray]:
    axis = rubric.primary_axis
    results = scorer.score_sync(texts, rubric, [axis])
    top = [max(r.axes[axis].scores, key=r.axes[axis].scores.__getitem__) for r in results]
    confidence = np.array([max(r.axes[axis].scores.values()) for r in results])
    best_raw = np.array([max(r.axes[axis].raw.values()) for r in results])
    return top, confidence, best_raw


def report(name: str, inside: np.ndarray, confidence: np.ndarray, best_raw: np.ndarray) -> dict:
    floor = Floors().none_fits
    row = {
        "auroc_confidence": auroc(confidence, inside),
        "auroc_best_raw": auroc(best_raw, inside),
        "none_fits_out": float((best_raw[~inside] < floor).mean()),
        "none_fits_in": float((best_raw[inside] < floor).mean()),
    }
    print(
        f"  {name:<34} AUROC confidence {row['auroc_confidence']:.3f} · best raw "
        f"{row['auroc_best_raw']:.3f} · none_fits: {row['none_fits_out']:.1%} of out-of-scope, "
        f"{row['none_fits_in']:.1%} of in-scope"
    )
    return row


def read(path: Path) -> list[dict[str, str]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=3, help="unknown-intent draws")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "oos.json")
    args = parser.parse_args()
    scorer = build_local_scorer(LocalSettings())
    results: dict[str, dict] = {}

    print("CLINC150 test (the clinc150 rubric):")
    rubric_path = ROOT / "evals" / "rubrics" / "clinc150.yaml"
    rubric = parse_rubric(rubric_path.read_text(encoding="utf-8"), str(rubric_path))
    rows = read(DATA / "clinc150_oos" / "test.jsonl")
    inside = np.array([r["label"] != "oos" for r in rows])
    top, confidence, best_raw = signals(scorer, rubric, [r["text"] for r in rows])
    accuracy = np.mean(
        [t == r["label"] for t, r in zip(top, rows, strict=True) if r["label"] != "oos"]
    )
    print(f"  in-scope accuracy {accuracy:.3f} ({inside.sum()} in-scope, {(~inside).sum()} out)")
    results["clinc150"] = {"in_scope_accuracy": float(accuracy)} | report(
        "out-of-scope", inside, confidence, best_raw
    )

    print("BANKING77 test, a fifth of the labels unknown to the rubric:")
    source_path = ROOT / "evals" / "rubrics" / "banking77.yaml"
    source = yaml.safe_load(source_path.read_text(encoding="utf-8"))
    rows = read(DATA / "banking77" / "test.jsonl")
    names = [label["name"] for label in source["labels"]]
    draws = []
    for seed in range(args.seeds):
        unknown = set(random.Random(seed).sample(names, len(names) // 5))
        doc = source | {"labels": [lb for lb in source["labels"] if lb["name"] not in unknown]}
        rubric = parse_rubric(yaml.safe_dump(doc), f"banking77-minus-{seed}.yaml")
        inside = np.array([r["label"] not in unknown for r in rows])
        _, confidence, best_raw = signals(scorer, rubric, [r["text"] for r in rows])
        draws.append(
            report(f"seed {seed}: {len(unknown)} labels unknown", inside, confidence, best_raw)
        )
    results["banking77_unknown"] = {
        key: float(np.mean([d[key] for d in draws])) for key in draws[0]
    } | {"seeds": args.seeds}
    mean = results["banking77_unknown"]
    print(
        f"  mean over {args.seeds} draws: AUROC confidence {mean['auroc_confidence']:.3f} · "
        f"best raw {mean['auroc_best_raw']:.3f}"
    )
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"-> {args.out}")


if __name__ == "__main__":
    main()
