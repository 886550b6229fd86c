"""Out-of-scope: how well the embedded model's signals rank tickets no label fits below the
ones a label fits (AUROC; 1.0 is a perfect ranking), on

1. CLINC150's test split (1,650 in-scope + 350 out-of-scope queries, the `clinc150` rubric);
2. unknown intents: BANKING77's test split with a fifth of its labels removed from the
   rubric (seeded draws), their tickets now fitting no label.

Signals: `confidence` (the top of the distribution), `best raw` (the best label's own
yes-probability, what `none_fits` is decided on without a calibration) and `fit score` (the
best raw score lifted per label over its calibration traffic, gateway/pipeline/fit_score.py,
what a calibration's floor is on), each with its AUROC, and the share of out-of-scope tickets
marked `none_fits` against the share of in-scope ones: at the deployment's floor
(GATEWAY_NONE_FITS_FLOOR) on the best raw score, and at the floors `rubric calibrate` fits per
rubric, the `--none-fits-rate` quantile of the in-scope signal on a calibration split (CLINC150:
val; BANKING77: 2,000 seeded train tickets), never on the split measured. The fit score's label
traffic is taken from every calibration ticket, in scope or not, as `rubric calibrate` does.

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
from gateway.evals import DEFAULT_LIFT, auroc, fit_label_traffic, fit_none_fits_floor
from gateway.pipeline import lifted_best
from gateway.rubrics import RubricSet, parse_rubric
from gateway.scoring import LocalScorer, build_local_scorer

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT.parent / "shared" / "data"
Raw = list[dict[str, float]]
Row = dict[str, float | None]  # auroc is None on one-class data
Fitted = dict[str, tuple[float | None, np.ndarray]]  # signal kind -> (fitted floor, signal)


def signals(
    scorer: LocalScorer, rubric: RubricSet, texts: list[str]
) -> tuple[list[str], np.ndarray, Raw]:
    axis = rubric.primary_axis
    results = scorer.score_sync(texts, rubric, [axis])
    top = [max(r.axes[axis].scores, key=r.axes[axis].scores.__getitem__) for r in results]
    confidence = np.array([max(r.axes[axis].scores.values()) for r in results])
    return top, confidence, [r.axes[axis].raw for r in results]


def fitted_signal(
    calibration: Raw, in_scope: np.ndarray, measured: Raw, rate: float, lift: float
) -> tuple[float | None, np.ndarray]:
    """What ``rubric calibrate`` fits on a calibration split (traffic from every ticket, the
    floor from in-scope ones), and the signal it puts on the measured tickets."""
    labels = list(calibration[0])
    traffic = fit_label_traffic([[r[n] for n in labels] for r in calibration], labels, lift)

    def signal(rows: Raw) -> np.ndarray:
        return np.array([lifted_best(r, traffic) if traffic else max(r.values()) for r in rows])

    return fit_none_fits_floor(signal(calibration)[in_scope], rate), signal(measured)


def report(name: str, inside: np.ndarray, confidence: np.ndarray, raw: Raw, fitted: Fitted) -> Row:
    floor = Floors().none_fits
    best_raw = np.array([max(r.values()) for r in raw])
    row = {
        "auroc_confidence": auroc(confidence, inside),
        "auroc_best_raw": auroc(best_raw, inside),
        "none_fits_out": float((best_raw[~inside] < floor).mean()),
        "none_fits_in": float((best_raw[inside] < floor).mean()),
    }
    print(
        f"  {name:<34} AUROC confidence {row['auroc_confidence']:.3f} · best raw "
        f"{row['auroc_best_raw']:.3f} · none_fits at {floor:.2f}: {row['none_fits_out']:.1%} "
        f"of out-of-scope, {row['none_fits_in']:.1%} of in-scope"
    )
    for kind, (fit_floor, signal) in fitted.items():
        if fit_floor is None:
            continue
        row |= {
            f"{kind}_auroc": auroc(signal, inside),
            f"{kind}_floor": fit_floor,
            f"{kind}_none_fits_out": float((signal[~inside] < fit_floor).mean()),
            f"{kind}_none_fits_in": float((signal[inside] < fit_floor).mean()),
        }
        print(
            f"  {'':<34} {kind.replace('_', ' ')}: AUROC {row[f'{kind}_auroc']:.3f} · fitted "
            f"floor {fit_floor:.4f}: {row[f'{kind}_none_fits_out']:.1%} of out-of-scope, "
            f"{row[f'{kind}_none_fits_in']:.1%} of in-scope"
        )
    return row


def read(path: Path) -> list[dict[str, str]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=3, help="unknown-intent draws")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "oos.json")
    parser.add_argument(
        "--none-fits-rate",
        type=float,
        default=0.05,
        help="share of in-scope calibration tickets the fitted floor may flag",
    )
    parser.add_argument("--lift", type=float, default=DEFAULT_LIFT, help="fit score's lift")
    args = parser.parse_args()
    scorer = build_local_scorer(LocalSettings())
    results: dict[str, Row] = {}

    def fitted(calibration: Raw, in_scope: np.ndarray, measured: Raw) -> Fitted:
        return {
            kind: fitted_signal(calibration, in_scope, measured, args.none_fits_rate, lift)
            for kind, lift in (("best_raw", 0.0), ("fit_score", args.lift))
        }

    print("CLINC150 test (the clinc150 rubric; calibration split: val):")
    rubric_path = ROOT / "evals" / "rubrics" / "clinc150.yaml"
    rubric = parse_rubric(rubric_path.read_text(encoding="utf-8"), str(rubric_path))
    rows = read(DATA / "clinc150_oos" / "test.jsonl")
    inside = np.array([r["label"] != "oos" for r in rows])
    top, confidence, raw = signals(scorer, rubric, [r["text"] for r in rows])
    val = read(DATA / "clinc150_oos" / "val.jsonl")
    _, _, val_raw = signals(scorer, rubric, [r["text"] for r in val])
    val_in = np.array([r["label"] != "oos" for r in val])
    accuracy = np.mean(
        [t == r["label"] for t, r in zip(top, rows, strict=True) if r["label"] != "oos"]
    )
    print(f"  in-scope accuracy {accuracy:.3f} ({inside.sum()} in-scope, {(~inside).sum()} out)")
    accuracy_row: Row = {"in_scope_accuracy": float(accuracy)}
    results["clinc150"] = accuracy_row | report(
        "out-of-scope", inside, confidence, raw, fitted(val_raw, val_in, raw)
    )

    print("BANKING77 test, a fifth of the labels unknown to the rubric:")
    source_path = ROOT / "evals" / "rubrics" / "banking77.yaml"
    source = yaml.safe_load(source_path.read_text(encoding="utf-8"))
    rows = read(DATA / "banking77" / "test.jsonl")
    train = random.Random(0).sample(read(DATA / "banking77" / "train.jsonl"), 2000)
    names = [label["name"] for label in source["labels"]]
    draws = []
    for seed in range(args.seeds):
        unknown = set(random.Random(seed).sample(names, len(names) // 5))
        doc = source | {"labels": [lb for lb in source["labels"] if lb["name"] not in unknown]}
        rubric = parse_rubric(yaml.safe_dump(doc), f"banking77-minus-{seed}.yaml")
        inside = np.array([r["label"] not in unknown for r in rows])
        _, confidence, raw = signals(scorer, rubric, [r["text"] for r in rows])
        _, _, train_raw = signals(scorer, rubric, [r["text"] for r in train])
        train_in = np.array([r["label"] not in unknown for r in train])
        name = f"seed {seed}: {len(unknown)} labels unknown"
        draws.append(report(name, inside, confidence, raw, fitted(train_raw, train_in, raw)))
    results["banking77_unknown"] = {
        key: float(np.mean([d[key] for d in draws])) for key in draws[0]
    } | {"seeds": args.seeds}
    mean = results["banking77_unknown"]
    print(
        f"  mean over {args.seeds} draws: AUROC confidence {mean['auroc_confidence']:.3f} · "
        f"best raw {mean['auroc_best_raw']:.3f} · fit score "
        f"{mean.get('fit_score_auroc', float('nan')):.3f}; none_fits at the deployment floor "
        f"{mean['none_fits_out']:.1%} of out-of-scope, {mean['none_fits_in']:.1%} of in-scope; "
        "at the fitted floor on best raw "
        f"{mean.get('best_raw_none_fits_out', float('nan')):.1%} and "
        f"{mean.get('best_raw_none_fits_in', float('nan')):.1%}, on the fit score "
        f"{mean.get('fit_score_none_fits_out', float('nan')):.1%} and "
        f"{mean.get('fit_score_none_fits_in', float('nan')):.1%}"
    )
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"-> {args.out}")


if __name__ == "__main__":
    main()
