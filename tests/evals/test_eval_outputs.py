"""What an eval leaves behind and how it reads (issue 16.5-16.8): complete predictions files,
seeded stratified samples, confusion PNGs that hold their labels without a warning, and report
wording that says what auto-routed accuracy, latency and "changed" count."""

from __future__ import annotations

import json
import random
import warnings
from pathlib import Path

import numpy as np
import pytest
import typer
from rich.console import Console
from support.eval_fakes import FakeClassifier, fake_factory, write_jsonl, write_tiny_suite
from typer.testing import CliRunner

from gateway.evals import (
    EvalOptions,
    Prediction,
    RunResult,
    RunSpec,
    Ticket,
    evaluate_suite,
    load_suite,
    plot_confusion,
    read_predictions,
    runs_table,
    stratified_sample,
    write_predictions,
    write_report,
)
from gateway.evals import cli as eval_cli
from gateway.evals.sampling import allocate

# --------------------------------------------------------------------------- 16.5 predictions


def test_predictions_file_keeps_every_score_and_the_raw_scores(tmp_path: Path) -> None:
    labels = [f"label_{i}" for i in range(7)]
    rng = np.random.default_rng(0)
    preds = []
    for i in range(4):
        probs = rng.dirichlet(np.ones(7))
        preds.append(
            Prediction(
                id=f"t-{i}",
                gold=[labels[i]],
                in_scope=True,
                top_label=labels[int(probs.argmax())],
                scores=dict(zip(labels, probs.tolist(), strict=True)),
                raw={n: float(x) for n, x in zip(labels, rng.random(7), strict=True)},
            )
        )
    result = RunResult(run=RunSpec(scorer="local"), predictions=preds, wall_s=1.0)
    write_predictions(tmp_path, result)
    back = read_predictions(tmp_path, result.run)
    assert back is not None
    for p, q in zip(preds, back.predictions, strict=True):
        assert q.scores == p.scores and len(q.scores) == 7  # not the top 5
        assert q.raw == p.raw
    # the gold-label NLL, recomputed from the file alone
    nll = -np.mean([np.log(q.scores[q.gold[0]]) for q in back.predictions])
    assert nll == pytest.approx(-np.mean([np.log(p.scores[p.gold[0]]) for p in preds]))


def test_report_predictions_recompute_the_reported_nll(tmp_path: Path) -> None:
    loaded = load_suite(write_tiny_suite(tmp_path))
    report, results = evaluate_suite(loaded, fake_factory(FakeClassifier()), EvalOptions())
    files = write_report(report, results, tmp_path / "out", plots=False)
    lines = [json.loads(line) for line in files.predictions[0].read_text().splitlines()]
    assert all(set(r["scores"]) == set(loaded.labels) and r["raw"] for r in lines if r["scores"])
    scoped = [r for r in lines if r["in_scope"] and r["gold"]]
    nll = -np.mean([np.log(max(r["scores"][r["gold"][0]], 1e-12)) for r in scoped])
    assert nll == pytest.approx(report.runs[0].nll)


# --------------------------------------------------------------------------- 16.6 sampling


def _skewed(n_big: int = 95) -> list[Ticket]:
    gold = ["big"] * n_big + ["small"] * 3 + ["tiny"] * 2
    return [
        Ticket(id=f"test-{i}", text=f"t{i}", gold=(g,)) for i, g in enumerate(gold, start=1)
    ] + [Ticket(id="test-999", text="oos", gold=(), in_scope=False)]


def test_allocation_is_proportional_with_every_stratum_at_least_once() -> None:
    rng = random.Random(0)
    assert allocate({"big": 95, "small": 3, "tiny": 2}, 10, rng) == {
        "big": 8,
        "small": 1,
        "tiny": 1,
    }
    assert allocate({"a": 50, "b": 30, "c": 20}, 10, rng) == {"a": 5, "b": 3, "c": 2}
    assert sum(allocate({"a": 3, "b": 1, "c": 1, "d": 1}, 2, rng).values()) == 2


def test_stratified_sample_keeps_small_labels_and_is_seeded() -> None:
    rows = _skewed()
    sample = stratified_sample(rows, 10, seed=3)
    assert len(sample) == 10 and len({t.id for t in sample}) == 10
    strata = [t.gold[0] if t.gold else "oos" for t in sample]
    assert {s: strata.count(s) for s in set(strata)} == {"big": 7, "small": 1, "tiny": 1, "oos": 1}
    assert sample == stratified_sample(rows, 10, seed=3)
    assert sample != stratified_sample(rows, 10, seed=4)


def test_suite_sample_stratify_option(tmp_path: Path) -> None:
    suite = write_tiny_suite(tmp_path)
    data = tmp_path / "data" / "tiny"
    rows = [("refund me", "billing")] * 40 + [("it is broken", "technical")] * 3
    write_jsonl(data / "test.jsonl", [*rows, ("log in fails", "account"), ("joke", "oos")])
    text = suite.read_text()
    suite.write_text(text + "sample: {n: 8, stratify: true, seed: 0}\n")
    loaded = load_suite(suite)
    tickets = loaded.tickets()
    assert len(tickets) == 8
    assert {t.gold[0] if t.gold else "oos" for t in tickets} == {
        "billing",
        "technical",
        "account",
        "oos",
    }
    assert [t.id for t in tickets] == sorted((t.id for t in tickets), key=lambda i: int(i[5:]))
    # the old form still reads, plain random; --no-stratify turns a suite's stratify off
    suite.write_text(text + "sample: {size: 8, seed: 0}\n")
    plain = load_suite(suite)
    assert not plain.suite.sample.stratify and len(plain.tickets()) == 8
    report, _ = evaluate_suite(loaded, fake_factory(FakeClassifier()), EvalOptions())
    assert report.dataset.stratified and report.dataset.sample_size == 8
    off, _ = evaluate_suite(loaded, fake_factory(FakeClassifier()), EvalOptions(stratify=False))
    assert not off.dataset.stratified


# --------------------------------------------------------------------------- 16.7 plots


def _edge_ink(path: Path, border: int = 3) -> float:
    """Darkest pixel value on the image's border (255: all white)."""
    pil = pytest.importorskip("PIL.Image")
    with pil.open(path) as image:
        grey = np.asarray(image.convert("L"))
    edges = np.concatenate(
        [
            grey[:border].ravel(),
            grey[-border:].ravel(),
            grey[:, :border].ravel(),
            grey[:, -border:].ravel(),
        ]
    )
    return float(edges.min())


@pytest.mark.parametrize(("n", "length"), [(3, 90), (7, 70), (40, 40)])
def test_confusion_png_holds_long_labels_without_a_warning(
    tmp_path: Path, n: int, length: int
) -> None:
    loaded = load_suite(write_tiny_suite(tmp_path))
    report, _ = evaluate_suite(loaded, fake_factory(FakeClassifier()), EvalOptions())
    m = report.runs[0]
    assert m.confusion is not None
    labels = [f"{i}_" + "intent_with_a_long_name_" * 4 for i in range(n)]
    labels = [label[:length] for label in labels]
    counts = (np.eye(n, dtype=int) * 9 + 1).tolist()
    long = m.model_copy(
        update={"confusion": m.confusion.model_copy(update={"labels": labels, "counts": counts})}
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        path = plot_confusion(long, tmp_path / "confusion.png")
    assert path is not None
    assert [str(w.message) for w in caught] == []
    # a clipped label runs off the canvas: text pixels on its edge; a whole one leaves margin
    assert _edge_ink(path) > 200


# --------------------------------------------------------------------------- 16.8 wording

# auto-routed by the fake (two keywords or more): 3 right, 1 wrong in scope, 1 out of scope
ROUTED = [
    ("refund the charge on my invoice", "billing"),
    ("the error page is broken", "technical"),
    ("log in to my account", "account"),
    ("refund the invoice for a broken kettle", "technical"),  # the fake says billing
    ("refund and invoice for my holiday photos", "oos"),
    ("what is the weather like", "oos"),  # none fits: manual
]


@pytest.fixture
def cli(monkeypatch: pytest.MonkeyPatch) -> typer.Typer:
    app = typer.Typer()
    eval_cli.register(app)
    monkeypatch.setattr(eval_cli, "factory", fake_factory(FakeClassifier()))
    return app


runner = CliRunner()


def test_report_says_what_auto_routed_accuracy_and_latency_count(
    tmp_path: Path, cli: typer.Typer
) -> None:
    suite = write_tiny_suite(tmp_path)
    write_jsonl(tmp_path / "data" / "tiny" / "test.jsonl", ROUTED)
    loaded = load_suite(suite)
    report, results = evaluate_suite(loaded, fake_factory(FakeClassifier()), EvalOptions())
    (m,) = report.runs
    assert m.routing.auto_route.n == 5
    assert m.routing.auto_route.accuracy == pytest.approx(3 / 5)
    assert m.oos is not None and m.oos.auto_routed == 1
    assert m.oos.auto_route_accuracy_in_scope == pytest.approx(3 / 4)
    # batches of 3 (the suite's batch_size), each response 1 ms: 1/3 ms per ticket
    assert m.timing.tickets_per_call == 3
    assert m.timing.latency_p95_ms == pytest.approx(1.0)
    assert m.timing.latency_p95_per_ticket_ms == pytest.approx(1 / 3)
    md = write_report(report, results, tmp_path / "out", plots=False).markdown.read_text()
    assert "| auto-routed accuracy (OOS count as wrong) | 0.600 |" in md
    assert "| auto-routed accuracy, in-scope only | 0.750 |" in md
    assert "| latency p95 per call of ≤3 tickets (ms) | 1 |" in md
    assert "| latency p95 per ticket (ms) | 0.3 |" in md
    assert "counts an auto-routed out-of-scope ticket as wrong" in md
    assert "latency p95 (ms, batch)" not in md
    console = Console(width=200, record=True)
    console.print(runs_table(report))
    terminal = console.export_text()
    assert "auto-routed accuracy, in-scope only" in terminal
    assert "latency p95 per call of ≤3 tickets (ms)" in terminal
    shown = runner.invoke(cli, ["eval", str(suite), "--out", str(tmp_path / "r"), "--no-plots"])
    assert shown.exit_code == 0, shown.output
    flat = " ".join(shown.output.split())
    assert "in-scope only" in flat and "per call" in flat


def test_compare_explains_fixed_broken_and_changed(
    tmp_path: Path, cli: typer.Typer, monkeypatch: pytest.MonkeyPatch
) -> None:
    suite = write_tiny_suite(tmp_path)
    out = tmp_path / "reports"
    first = runner.invoke(cli, ["eval", str(suite), "--out", str(out), "--no-plots"])
    assert first.exit_code == 0, first.output
    (a,) = out.iterdir()
    # B puts an out-of-scope ticket on another (still wrong) label: a "changed" flip
    swap = {"tell me a joke": "account", "refund my order": "account"}
    monkeypatch.setattr(eval_cli, "factory", fake_factory(FakeClassifier(swap=swap)))
    args = ["eval", str(suite), "--out", str(out), "--no-plots", "--baseline", str(a)]
    args += ["--tolerance", "1"]
    second = runner.invoke(cli, args)
    assert second.exit_code == 0, second.output
    (b,) = [p for p in out.iterdir() if p != a]
    compared = runner.invoke(cli, ["compare", str(a), str(b)], env={"COLUMNS": "200"})
    assert compared.exit_code == 0, compared.output
    flat = " ".join(compared.output.split())
    assert "fixed 0, broken 1, changed 1" in flat
    assert "changed: another label in B but wrong in both" in flat
    md = " ".join((b / "report.md").read_text().split())
    assert "0 fixed, 1 broken, 1 changed (fixed: wrong in A, right in B;" in md
    help_text = " ".join(runner.invoke(cli, ["compare", "--help"]).output.split())
    assert "changed (another label in B, wrong in both" in help_text
