"""Cold start: the first weeks of a team on the gateway, simulated against a real server.

    .venv/bin/python bench/cold_start.py                                  # BANKING77
    .venv/bin/python bench/cold_start.py --suite evals/suites/bitext_intents.yaml

A real ``rubric serve`` (uvicorn subprocess; SQLite store in a temporary directory; redaction
off: the public sets hold no personal data) classifies the suite's train split in rounds of
``--round`` tickets through ``/classify/batch`` (full rounds; the remainder is left out). After
each round a simulated reviewer claims up to ``--budget`` tickets from ``/review/queue`` (most
informative first) and answers with the true label through ``/review/{id}/label``. Then, as
an operator would with the ``rubric`` CLI: the head in shadow is offered for promotion
(``promote``: refused unless it beats the live scorer on the audit picks, the random share of
the queue, since the live scorer began; its answers cross-fitted; McNemar p < 0.05), and a new
head is trained on every stored label (``train``) and takes its place in shadow (``shadow
start``: the waiting queue is re-ranked by its margins, and it scores the next tickets).

Beside it, as many labels drawn at random from the tickets streamed so far train a head the
same way: the queue's choice has to beat random choice.

One line a round; ``cold_start_<suite>.json`` and ``.png`` in ``--out``: labels used → macro-F1
on the test split of the new head (queue's choice and random choice) and of the live answer
(the promoted head where it is sure, else the zero-shot rubric), queue size, auto-routed share
and precision (the round's responses; the promoted head's on test).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import httpx
import numpy as np
from numpy.typing import NDArray

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from gateway.config import load_settings  # noqa: E402
from gateway.errors import GatewayError, PromotionRefusedError  # noqa: E402
from gateway.evals import load_suite, macro_f1_from_arrays  # noqa: E402
from gateway.learning.lifecycle import (  # noqa: E402
    evidence_for,
    loaded,
    promote,
    shadow,
    train_from_store,
)
from gateway.learning.memo import EmbeddingMemo  # noqa: E402
from gateway.learning.train import TrainingExample, TrainOptions, train_head  # noqa: E402
from gateway.pipeline import build_classifier  # noqa: E402
from gateway.schemas import ClassifyRequest  # noqa: E402
from gateway.scoring import TrainedHead, build_local_scorer  # noqa: E402
from gateway.store import open_store  # noqa: E402

Ticket = tuple[str, str, str]  # id, text, gold label


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(env: dict[str, str], port: int, log: Path) -> subprocess.Popen[bytes]:
    cmd = [sys.executable, "-m", "gateway.cli", "serve", "--port", str(port)]
    with log.open("wb") as sink:  # the server's access log, not this bench's output
        proc = subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=sink, stderr=sink)
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        if proc.poll() is not None:
            raise SystemExit("the server exited during start-up")
        time.sleep(0.5)
    proc.kill()
    raise SystemExit("the server did not become ready in 180 s")


def classify_round(
    client: httpx.Client, rubric: str, tickets: Sequence[Ticket]
) -> list[dict[str, object]]:
    out: list[dict[str, object]] = []
    for start in range(0, len(tickets), 250):
        items = [
            {"text": text, "rubric": rubric, "redact": False, "metadata": {"ticket_id": tid}}
            for tid, text, _ in tickets[start : start + 250]
        ]
        r = client.post("/classify/batch", json={"items": items}, timeout=600)
        r.raise_for_status()
        for entry in r.json()["results"]:
            if entry["error"] is not None:
                raise SystemExit(f"classify failed: {entry['error']}")
            out.append(entry["result"])
    return out


def review(client: httpx.Client, rubric: str, budget: int, truth: dict[str, str]) -> int:
    """Answer the queue with the true labels, most informative first, up to ``budget``."""
    done = 0
    while done < budget:
        r = client.get(
            "/review/queue",
            params={"rubric": rubric, "limit": min(100, budget - done), "reviewer": "sim"},
        )
        r.raise_for_status()
        items = r.json()["items"]
        if not items:
            break
        for item in items:
            resp = client.post(
                f"/review/{item['id']}/label",
                json={"label": truth[item["external_id"]], "reviewer": "sim"},
            )
            resp.raise_for_status()
            done += 1
    return done


def test_probs(
    head: TrainedHead, embeddings: NDArray[np.float32], labels: list[str]
) -> NDArray[np.float64]:
    """The head's probabilities on the test split, columns in the suite's label order."""
    probs = head.predict_proba(embeddings)
    index = {name: i for i, name in enumerate(head.meta.labels)}
    return probs[:, [index[name] for name in labels]]


def share(mask: NDArray[np.bool_]) -> float:
    return float(mask.mean()) if mask.size else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--suite", type=Path, default=ROOT / "evals/suites/banking77.yaml")
    parser.add_argument("--round", type=int, default=500, help="tickets a round")
    parser.add_argument("--budget", type=int, default=100, help="labels a round")
    parser.add_argument(
        "--rounds", type=int, default=None, help="default: every full round of the split"
    )
    parser.add_argument("--queue-for", default="all", help="GATEWAY_REVIEW_QUEUE_FOR")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    parser.add_argument("--no-random", action="store_true", help="skip the random baseline")
    parser.add_argument(
        "--self-train",
        action="store_true",
        help="heads refit with the waiting tickets they are sure of (TrainOptions.self_train); "
        "the random baseline with the tickets streamed and not drawn",
    )
    args = parser.parse_args()

    suite = load_suite(args.suite)
    rubric, labels, axis = suite.rubric, suite.labels, suite.axis
    train = [t for t in suite.tickets("train") if t.gold]
    test = [t for t in suite.tickets("test") if t.gold]
    random.Random(args.seed).shuffle(train)
    stream: list[Ticket] = [(t.id, t.text, t.gold[0]) for t in train]
    truth = {tid: label for tid, _, label in stream}
    # full rounds only: a last round of a few tickets would plot its shares of a handful
    rounds = min(args.rounds or len(stream), len(stream) // args.round)

    work = Path(tempfile.mkdtemp(prefix="cold-start-"))
    env = {
        **os.environ,
        "GATEWAY_RUBRICS_DIR": str(suite.rubric_path.parent),
        "GATEWAY_DEFAULT_RUBRIC": rubric.name,
        "GATEWAY_DATA_DIR": str(work / "data"),
        "GATEWAY_CACHE_ENABLED": "false",
        "GATEWAY_ALLOW_UNREDACTED": "true",
        "GATEWAY_STORE_TEXT_FOR": "all",
        "GATEWAY_REVIEW_QUEUE_FOR": args.queue_for,
        "GATEWAY_HEADS_REFRESH_S": "0",
        "GATEWAY_DRIFT_INTERVAL_S": "0",
    }
    os.environ.update({k: v for k, v in env.items() if k.startswith("GATEWAY_")})
    settings = load_settings()
    encoder = EmbeddingMemo(build_local_scorer(settings.local).encoder)
    test_emb = encoder.embed([t.text for t in test])
    gold = np.array([labels.index(t.gold[0]) for t in test])
    options = TrainOptions(seed=args.seed, self_train=args.self_train)
    n_labels = len(labels)

    # the rubric alone on the test split, through the same pipeline as the server but in this
    # process (through the server, the test tickets would enter the store and the queue)
    offline = build_classifier(settings)
    requests = [ClassifyRequest(text=t.text, rubric=rubric.name, redact=False) for t in test]
    zero_shot = np.array(
        [labels.index(r.top_label) for r in asyncio.run(offline.classify_many(requests))]  # type: ignore[union-attr]
    )
    offline.close()
    zero_f1 = macro_f1_from_arrays(gold, zero_shot, n_labels)
    print(f"{suite.suite.name}: zero-shot rubric on test macro-F1 {zero_f1:.3f} ({len(test)})")

    port = free_port()
    proc = start_server(env, port, work / "server.log")
    store = open_store(settings.store.url)
    client = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60)
    rows: list[dict[str, object]] = []
    rng = random.Random(args.seed + 1)
    pool: list[Ticket] = []
    drawn: list[Ticket] = []
    promoted: TrainedHead | None = None
    labels_used = 0
    try:
        for k in range(rounds):
            chunk = stream[k * args.round : (k + 1) * args.round]
            if not chunk:
                break
            started = time.perf_counter()
            results = classify_round(client, rubric.name, chunk)
            gold_stream = [label for _, _, label in chunk]
            auto = np.array([r["decision"] == "auto_route" for r in results])
            right = np.array(
                [r["top_label"] == g for r, g in zip(results, gold_stream, strict=True)]
            )
            by_head = np.array([r["scorer"] == "head" for r in results])
            # the store's writer runs behind the responses: the reviewer sees the whole round
            while store.volume(rubric=rubric.name) < k * args.round + len(chunk):
                time.sleep(0.1)
            labels_used += review(client, rubric.name, args.budget, truth)
            queue = store.queue_size(rubric=rubric.name)

            # the shadow head is offered for promotion (judged on every audit pick since the
            # live scorer began, cross-fitted); then the newest takes its place and re-ranks
            # the queue by its margins
            verdict = ""
            for record in store.staged(rubric.name, "shadow"):
                evidence = evidence_for(store, encoder, record.id, rubric, options)
                try:
                    promote(store, encoder, record.id, rubric, options=options)
                    promoted = loaded(record, encoder)
                    verdict = f"v{record.version} promoted"
                except PromotionRefusedError:
                    verdict = f"v{record.version} refused"
                if evidence is not None:
                    verdict += (
                        f" ({evidence.n} held-out: accuracy live {evidence.live_accuracy:.2f}"
                        f" head {evidence.head_accuracy:.2f}, p={evidence.mcnemar.p_value:.1g})"
                    )
            trained = train_from_store(
                store, encoder, rubric, axis, settings.store.models_dir, options
            )
            shadow(store, trained.record.id, encoder)
            head = loaded(trained.record, encoder)
            head_f1 = macro_f1_from_arrays(
                gold, test_probs(head, test_emb, labels).argmax(axis=1), n_labels
            )

            # live on test: the promoted head where it is sure, else the rubric
            live, head_auto, head_auto_prec = zero_shot, float("nan"), float("nan")
            if promoted is not None:
                p = test_probs(promoted, test_emb, labels)
                sure = p.max(axis=1) >= promoted.meta.thresholds.auto_route
                live = np.where(sure, p.argmax(axis=1), zero_shot)
                head_auto = share(sure)
                head_auto_prec = share(p.argmax(axis=1)[sure] == gold[sure])
            live_f1 = macro_f1_from_arrays(gold, live, n_labels)

            random_f1 = float("nan")
            pool.extend(chunk)
            if not args.no_random:
                rng.shuffle(pool)
                need = labels_used - len(drawn)
                drawn.extend(pool[:need])
                del pool[:need]
                try:
                    rhead, _ = train_head(
                        [TrainingExample(text=t, label=g) for _, t, g in drawn],
                        rubric,
                        axis,
                        encoder,
                        version=1,
                        options=options,
                        unlabelled=[t for _, t, _ in pool],
                    )
                    random_f1 = macro_f1_from_arrays(
                        gold, test_probs(rhead, test_emb, labels).argmax(axis=1), n_labels
                    )
                except GatewayError as exc:  # too few of some label: no point this round
                    print(f"  random choice: {exc.code}")
            row = {
                "round": k + 1,
                "streamed": k * args.round + len(chunk),
                "labels": labels_used,
                "head_macro_f1": round(head_f1, 4),
                "random_macro_f1": round(random_f1, 4),
                "live_macro_f1": round(live_f1, 4),
                "cv_macro_f1": round(trained.report.cv_macro_f1, 4),
                "queue": queue,
                "stream_auto_share": round(share(auto), 4),
                "stream_auto_precision": round(share(right[auto]), 4),
                "stream_by_head_share": round(share(by_head), 4),
                "stream_by_head_precision": round(share(right[by_head]), 4),
                "test_head_auto_share": round(head_auto, 4),
                "test_head_auto_precision": round(head_auto_prec, 4),
                "head_auto_route": round(head.meta.thresholds.auto_route, 4),
                "verdict": verdict,
                "seconds": round(time.perf_counter() - started, 1),
            }
            rows.append(row)
            print(
                f"round {k + 1:2d} {labels_used:5d} labels · head {head_f1:.3f} · random "
                f"{random_f1:.3f} · live {live_f1:.3f} · queue {queue:5d} · auto "
                f"{share(auto):.0%}@{share(right[auto]):.3f} (head {share(by_head):.0%}@"
                f"{share(right[by_head]):.3f}) · {verdict} · {row['seconds']} s",
                flush=True,
            )
    finally:
        client.close()
        store.close()
        proc.terminate()
        proc.wait(30)
    args.out.mkdir(parents=True, exist_ok=True)
    name = suite.suite.name
    summary = {
        "suite": name,
        "command": " ".join(["python", "bench/cold_start.py", *sys.argv[1:]]),
        "zero_shot_macro_f1": round(zero_f1, 4),
        "round": args.round,
        "budget": args.budget,
        "queue_for": args.queue_for,
        "explore": settings.store.explore,
        "self_train": args.self_train,
        "rounds": rows,
    }
    (args.out / f"cold_start_{name}.json").write_text(json.dumps(summary, indent=1) + "\n")
    plot(rows, zero_f1, args.out / f"cold_start_{name}.png", name)
    print(f"wrote {args.out / f'cold_start_{name}.png'}")


def plot(rows: list[dict[str, object]], zero_f1: float, path: Path, name: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    def col(key: str) -> list[float]:
        return [float(r[key]) for r in rows]  # type: ignore[arg-type]

    x = col("labels")
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(9, 8), sharex=True)
    top.plot(x, col("head_macro_f1"), "o-", label="head, queue's choice of tickets")
    top.plot(x, col("random_macro_f1"), "s--", label="head, random choice")
    top.plot(x, col("live_macro_f1"), "^-", label="live (promoted head where sure, else rubric)")
    top.axhline(zero_f1, color="grey", linestyle=":", label=f"zero-shot rubric {zero_f1:.3f}")
    top.set_ylabel("macro-F1 on the test split")
    top.set_title(f"cold start on {name}: labels → quality")
    top.grid(alpha=0.3)
    top.legend(loc="lower right")
    bottom.plot(x, col("stream_auto_share"), "o-", label="auto-routed share (stream)")
    bottom.plot(x, col("stream_auto_precision"), "s-", label="auto-routed precision (stream)")
    bottom.plot(x, col("test_head_auto_precision"), "d:", label="promoted head's precision (test)")
    bottom.set_ylabel("share")
    bottom.set_xlabel("labels used")
    bottom.set_ylim(0, 1.02)
    bottom.grid(alpha=0.3)
    twin = bottom.twinx()
    twin.plot(x, col("queue"), "k:", label="open queue (right)")
    twin.set_ylabel("open queue items")
    handles, names = bottom.get_legend_handles_labels()
    more, more_names = twin.get_legend_handles_labels()
    bottom.legend(handles + more, names + more_names, loc="lower right", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


if __name__ == "__main__":
    main()
