"""Long tickets: reading the whole ticket in windows against the first 256 tokens.

On the long-ticket suite (evals/data/banking77_long: BANKING77 queries inside 2,000-10,000
characters of label-neutral filler, the query at the start, middle or end), compares:

1. how a ticket's windows are pooled (embedded directly; every window read): the first 256
   tokens, the mean or element-wise max of the window embeddings, a first-window weight, and
   each window scored on its own with a label's best window kept (what the scorer does);
2. end to end through the gateway's Classifier (redaction on, cache off): the first 256 tokens
   (GATEWAY_LOCAL_MAX_WINDOWS=1) against the default window cap, with accuracy's paired
   bootstrap CI and the cost per ticket.

    python bench/long_tickets.py [--n 385]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from gateway.config import CacheSettings, LocalSettings, RubricSettings, Settings, StoreSettings
from gateway.evals import accuracy_of, bootstrap_delta
from gateway.pipeline import build_classifier
from gateway.rubrics import load_rubric_file
from gateway.schemas import ClassifyRequest, ClassifyResponse
from gateway.scoring import build_local_scorer

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "evals" / "data" / "banking77_long" / "test.jsonl"
RUBRIC = ROOT / "evals" / "rubrics" / "banking77.yaml"
RESULT = ROOT / "bench" / "results" / "long_tickets.json"
POSITIONS = ("start", "middle", "end")


def unit(m: np.ndarray) -> np.ndarray:
    return m / np.linalg.norm(m, axis=-1, keepdims=True)


def by_position(ok: np.ndarray, positions: list[str]) -> str:
    parts = [f"{p} {ok[[q == p for q in positions]].mean():.3f}" for p in POSITIONS]
    return " · ".join(parts)


def pooling(rows: list[dict[str, str]]) -> dict[str, float]:
    """Every window read; only the pooling differs."""
    settings = LocalSettings()
    scorer = build_local_scorer(settings)
    encoder = scorer.encoder
    rubric = load_rubric_file(RUBRIC)
    axis = rubric.primary_axis
    names = rubric.axes[axis].names
    gold = np.array([names.index(r["label"]) for r in rows])
    positions = [r["position"] for r in rows]
    first = encoder.embed([r["text"] for r in rows])
    per_ticket = []
    for r in rows:
        windows = encoder.windows(r["text"], settings.window_tokens, settings.window_stride)
        assert windows is not None, "every suite ticket is longer than 256 tokens"
        per_ticket.append(encoder.embed_windows(windows))
    pooled = {
        "first 256 tokens": first,
        "mean of windows": unit(np.stack([w.mean(axis=0) for w in per_ticket])),
        "max of windows (element-wise)": unit(np.stack([w.max(axis=0) for w in per_ticket])),
        "first window weighted x2": unit(
            np.stack([(w.sum(axis=0) + w[0]) / (len(w) + 1) for w in per_ticket])
        ),
    }
    predictions = {
        name: scorer.label_cosines(vectors, rubric, axis).argmax(axis=1)
        for name, vectors in pooled.items()
    }
    predictions["best window (each scored)"] = np.array(
        [scorer.label_cosines(w, rubric, axis).max(axis=0).argmax() for w in per_ticket]
    )
    out: dict[str, float] = {}
    print(f"\npooling, every window read ({len(rows)} tickets, accuracy):")
    for name, predicted in predictions.items():
        ok = predicted == gold
        out[name] = float(ok.mean())
        print(f"  {name:<32} {ok.mean():.3f}   ({by_position(ok, positions)})")
    return out


def run(rows: list[dict[str, str]], max_windows: int, tmp: Path) -> tuple[list[str], list[float]]:
    settings = Settings(
        rubrics=RubricSettings(dir=RUBRIC.parent, default="banking77"),
        local=LocalSettings(max_windows=max_windows, micro_batch=1),
        cache=CacheSettings(enabled=False, dir=tmp / "cache"),
        store=StoreSettings(enabled=False),
    )
    classifier = build_classifier(settings)

    async def go() -> tuple[list[str], list[float]]:
        await classifier.classify(ClassifyRequest(text="warm up", rubric="banking77"))
        preds, costs = [], []
        for r in rows:
            started = time.perf_counter()
            resp: ClassifyResponse = await classifier.classify(
                ClassifyRequest(text=r["text"], rubric="banking77")
            )
            costs.append((time.perf_counter() - started) * 1000)
            preds.append(resp.top_label)
        return preds, costs

    try:
        return asyncio.run(go())
    finally:
        classifier.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=385, help="tickets (the suite has 385)")
    parser.add_argument("--out", type=Path, default=RESULT)
    args = parser.parse_args()
    rows = [json.loads(line) for line in DATA.read_text(encoding="utf-8").splitlines()][: args.n]
    chars = [len(r["text"]) for r in rows]
    median = statistics.median(chars)
    print(f"{len(rows)} long tickets, {min(chars)}-{max(chars)} characters (median {median:.0f})")
    pooled = pooling(rows)

    with tempfile.TemporaryDirectory() as tmp:
        cap = LocalSettings().max_windows
        first_pred, first_cost = run(rows, 1, Path(tmp))
        whole_pred, whole_cost = run(rows, cap, Path(tmp))
    labels = sorted({r["label"] for r in rows} | set(first_pred) | set(whole_pred))
    gold = [labels.index(r["label"]) for r in rows]
    a = [labels.index(p) for p in first_pred]
    b = [labels.index(p) for p in whole_pred]
    delta = bootstrap_delta(accuracy_of, gold, a, b, n_resamples=2000)
    positions = [r["position"] for r in rows]
    ok_a = np.array(a) == np.array(gold)
    ok_b = np.array(b) == np.array(gold)
    mean_a, mean_b = statistics.fmean(first_cost), statistics.fmean(whole_cost)
    print("\nend to end (Classifier, redaction on, cache off, one ticket at a time):")
    for name, ok, cost in [
        ("first 256 tokens", ok_a, first_cost),
        (f"windows, at most {cap}", ok_b, whole_cost),
    ]:
        print(
            f"  {name:<22} accuracy {ok.mean():.3f} ({by_position(ok, positions)})  "
            f"{statistics.fmean(cost):.0f} ms/ticket (p50 {statistics.median(cost):.0f})"
        )
    print(
        f"  accuracy delta {delta.estimate:+.3f} (95% CI {delta.low:+.3f} to {delta.high:+.3f}); "
        f"cost x{mean_b / mean_a:.2f}"
    )
    args.out.write_text(
        json.dumps(
            {
                "tickets": len(rows),
                "pooling_accuracy": pooled,
                "first_256": {"accuracy": float(ok_a.mean()), "ms_mean": mean_a},
                "windows": {"max_windows": cap, "accuracy": float(ok_b.mean()), "ms_mean": mean_b},
                "delta": delta.model_dump(),
                "cost_ratio": mean_b / mean_a,
            },
            indent=2,
        )
        + "\n"
    )
    print(f"-> {args.out}")


if __name__ == "__main__":
    main()
