"""The eval harness end to end on a tiny suite written here, with a fake classifier.

The fake scores by keywords, so every number the harness reports can be worked out by hand.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Sequence
from pathlib import Path

import pytest
import typer
from support.eval_fakes import RUBRIC, FakeClassifier, fake_factory, write_jsonl, write_tiny_suite
from typer.testing import CliRunner

from gateway.errors import GatewayError
from gateway.evals import (
    DataMissingError,
    EvalOptions,
    RunSpec,
    SuiteError,
    SuiteReport,
    calibrate_suite,
    compare_runs,
    compute_metrics,
    evaluate_suite,
    load_suite,
    metric_value,
    recommend_thresholds,
    run_tickets,
    write_report,
)
from gateway.evals import cli as eval_cli
from gateway.pipeline import load_calibration
from gateway.schemas import ClassifyRequest, ClassifyResponse


@pytest.fixture
def suite_path(tmp_path: Path) -> Path:
    return write_tiny_suite(tmp_path)


# --------------------------------------------------------------------------- suite loading


def test_suite_loads_and_resolves_paths(suite_path: Path) -> None:
    loaded = load_suite(suite_path)
    assert loaded.labels == ["billing", "technical", "account"]
    assert loaded.rubric.name == "tiny"
    tickets = loaded.tickets()
    assert len(tickets) == 10
    assert [t.id for t in tickets[:2]] == ["test-1", "test-2"]
    assert sum(not t.in_scope for t in tickets) == 2
    assert tickets[-1].gold == ()
    sampled = loaded.tickets(size=4, seed=1)
    assert len(sampled) == 4
    assert sampled == loaded.tickets(size=4, seed=1)
    assert [r.key for r in loaded.runs()] == ["local"]


def test_suite_errors(suite_path: Path, tmp_path: Path) -> None:
    text = suite_path.read_text()
    suite_path.write_text(text + "unknown_key: 1\n")
    with pytest.raises(SuiteError, match="unknown_key"):
        load_suite(suite_path)
    suite_path.write_text(text.replace("oos_labels: [oos]", "oos_labels: []"))
    with pytest.raises(SuiteError, match="label 'oos' is not in rubric"):
        load_suite(suite_path).tickets()
    suite_path.write_text(text.replace("split: train,", "split: nope,"))
    with pytest.raises(SuiteError, match="split 'nope'"):
        load_suite(suite_path)


def test_missing_data_and_data_dir_override(suite_path: Path, tmp_path: Path) -> None:
    loaded = load_suite(suite_path, data_dir=tmp_path / "elsewhere")
    with pytest.raises(DataMissingError, match="--data-dir"):
        loaded.tickets()
    assert len(load_suite(suite_path, data_dir=tmp_path / "data").tickets()) == 10


def test_csv_dataset_with_label_map(tmp_path: Path, suite_path: Path) -> None:
    data = tmp_path / "data" / "tiny"
    (data / "test.csv").write_text(
        'id,body,category\nT1,refund me,BILL\nT2,it is broken,TECH\nT3,"hello, world",OTHER\n'
    )
    text = suite_path.read_text().replace("tiny/test.jsonl", "tiny/test.csv")
    text = text.replace("oos_labels: [oos]", "oos_labels: [OTHER]")
    text = text.replace(
        "  share_text: true\n",
        "  share_text: true\n  text_field: body\n  label_field: category\n  id_field: id\n",
    )
    text += "label_map: {BILL: billing, TECH: technical}\n"
    suite_path.write_text(text)
    tickets = load_suite(suite_path).tickets()
    assert [(t.id, t.gold, t.in_scope) for t in tickets] == [
        ("T1", ("billing",), True),
        ("T2", ("technical",), True),
        ("T3", (), False),
    ]
    assert tickets[2].text == "hello, world"


# --------------------------------------------------------------------------- runs and metrics


async def test_run_batches_and_metrics(suite_path: Path) -> None:
    loaded = load_suite(suite_path)
    fake = FakeClassifier()
    seen: list[int] = []
    result = await run_tickets(
        loaded, loaded.tickets(), fake, RunSpec(scorer="local"), progress=seen.append
    )
    assert [len(b) for b in fake.batches] == [3, 3, 3, 1]
    assert sum(seen) == 10
    assert all(r.rubric == "tiny" and r.axes == ["category"] for b in fake.batches for r in b)
    assert all(r.redact is None for b in fake.batches for r in b)
    m = compute_metrics(result, loaded.labels, loaded.rubric.thresholds_for("category"))
    # in scope: 8 tickets, 7 right (the 'refund for the broken thing' miss)
    assert m.n == 10 and m.n_in_scope == 8
    assert m.accuracy == pytest.approx(7 / 8)
    assert m.per_label["technical"].recall == pytest.approx(2 / 3)
    assert m.per_label["billing"].precision == pytest.approx(3 / 4)
    assert m.confusion is not None
    assert m.confusion.counts[1] == [1, 2, 0]
    assert m.oos is not None
    assert m.oos.n == 2
    assert m.oos.none_fits_recall == 1.0
    assert m.oos.auroc is not None and m.oos.auroc > 0.9
    # the headline ranks by the best raw score (what none_fits is decided on), confidence beside
    apart = m.model_copy(
        update={"oos": m.oos.model_copy(update={"auroc": 0.6, "auroc_max_raw": 0.8})}
    )
    assert metric_value(apart, "oos_auroc") == 0.8
    assert metric_value(apart, "oos_auroc_confidence") == 0.6
    assert m.routing.auto_route.n + m.routing.review.n + m.routing.manual.n == 10
    assert m.cost.prompt_tokens == 100
    assert m.cost.cost_usd == pytest.approx(0.01)
    assert m.timing.tickets_per_s > 0
    assert metric_value(m, "macro_f1") == m.macro_f1


async def test_errors_are_counted_not_fatal(suite_path: Path) -> None:
    loaded = load_suite(suite_path)
    tickets = loaded.tickets()
    broken = [tickets[0].model_copy(update={"text": ""}), *tickets[1:]]
    result = await run_tickets(loaded, broken, FakeClassifier(), RunSpec(scorer="local"))
    assert result.predictions[0].error == "text_empty"
    m = compute_metrics(result, loaded.labels, loaded.rubric.thresholds)
    assert m.n_errors == 1
    assert m.routing.manual.n >= 1


def _png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def test_report_files_are_well_formed(suite_path: Path, tmp_path: Path) -> None:
    loaded = load_suite(suite_path)
    report, results = evaluate_suite(loaded, fake_factory(FakeClassifier()), EvalOptions())
    files = write_report(report, results, tmp_path / "out")
    parsed = SuiteReport.model_validate_json(files.metrics.read_text())
    assert parsed.runs[0].accuracy == pytest.approx(7 / 8)
    assert parsed.dataset.licence.startswith("CC0")
    assert json.loads(files.metrics.read_text())["rubric"]["name"] == "tiny"
    md = files.markdown.read_text()
    assert "| accuracy | 0.875 |" in md
    assert "Out of scope" in md
    assert len(files.plots) == 3
    for plot in files.plots:
        width, height = _png_size(plot)
        assert width > 100 and height > 100
    pil = pytest.importorskip("PIL.Image")
    for plot in files.plots:
        with pil.open(plot) as image:
            image.verify()
    lines = files.predictions[0].read_text().splitlines()
    assert len(lines) == 10
    assert "text" not in json.loads(lines[0])  # no ticket text in predictions


def test_compare_runs_flips_and_mcnemar(suite_path: Path) -> None:
    loaded = load_suite(suite_path)
    good = evaluate_suite(loaded, fake_factory(FakeClassifier()), EvalOptions())
    swap = {"refund my order": "account", "the page is broken": "account"}
    worse = FakeClassifier(swap=swap)
    bad_report, _ = evaluate_suite(loaded, fake_factory(worse), EvalOptions())
    c = compare_runs(
        good[1][0],
        evaluate_suite(loaded, fake_factory(worse), EvalOptions())[1][0],
        loaded.labels,
        good[0].runs[0],
        bad_report.runs[0],
    )
    assert (c.n_broken, c.n_fixed) == (2, 0)
    assert {f.id for f in c.flips} == {"test-3", "test-5"}
    assert all(f.text is None for f in c.flips)
    assert c.mcnemar.method == "exact" and c.mcnemar.p_value == pytest.approx(0.5)
    acc = next(d for d in c.deltas if d.name == "accuracy")
    assert acc.delta == pytest.approx(-2 / 8)
    assert acc.ci is not None and acc.ci.low <= acc.delta <= acc.ci.high


# --------------------------------------------------------------------------- calibration, thresholds


def test_calibrate_writes_beside_rubric_and_eval_applies_it(suite_path: Path) -> None:
    loaded = load_suite(suite_path)
    fake = FakeClassifier(sharpness=6.0)  # overconfident on purpose
    outcomes = calibrate_suite(loaded, fake_factory(fake), EvalOptions())
    (o,) = outcomes
    assert o.written_to == loaded.rubric_path.with_name("tiny.calibration.json")
    assert o.fit_after.nll <= o.fit_before.nll
    assert o.calibration.temperature > 1.0  # overconfident → softened
    stored = load_calibration(
        loaded.rubric_path, loaded.rubric.fingerprint, "local", "fake/keywords", None
    )
    assert stored == o.calibration
    report, _ = evaluate_suite(loaded, fake_factory(fake), EvalOptions())
    assert [m.key for m in report.runs] == ["local", "local+cal"]
    assert report.runs[1].calibration == stored.id
    # same ranking, so the same accuracy; confidence moved
    assert report.runs[1].accuracy == report.runs[0].accuracy
    assert report.comparisons[0].n_broken == 0
    off, _ = evaluate_suite(loaded, fake_factory(fake), EvalOptions(apply_calibration=False))
    assert [m.key for m in off.runs] == ["local"]


def test_calibrate_refuses_a_run_answered_by_two_scorers(suite_path: Path) -> None:
    """A cascade answers some tickets with the embedded model and some with the LLM; the
    gateway looks a calibration up by the scorer that answered, so one temperature fitted over
    both would be filed under one of them and applied to the other's answers too."""
    loaded = load_suite(suite_path)

    class Cascade(FakeClassifier):
        async def __call__(
            self, reqs: Sequence[ClassifyRequest]
        ) -> list[ClassifyResponse | GatewayError]:
            out = await super().__call__(reqs)
            return [
                o.model_copy(update={"scorer": "llm", "model": "openai/m", "local_weight": 0.5})
                if isinstance(o, ClassifyResponse) and "error" in r.text
                else o
                for o, r in zip(out, reqs, strict=True)
            ]

    with pytest.raises(RuntimeError, match="answered by 2 scorers") as err:
        calibrate_suite(loaded, fake_factory(Cascade()), EvalOptions())
    assert "local fake/keywords None None; llm openai/m None 0.5" in str(err.value)
    assert not loaded.rubric_path.with_name("tiny.calibration.json").exists()


def test_calibrate_fits_the_none_fits_floor_from_in_scope_tickets(suite_path: Path) -> None:
    # the fake's raw score is keyword hits / 2: 20 in-scope train tickets with two hits (1.0),
    # four with one (0.5), and out-of-scope ones with none
    train = [("refund my invoice", "billing")] * 10 + [("broken with an error", "technical")] * 10
    train += [("log in please", "account")] * 4 + [("sing a song", "oos")] * 3
    write_jsonl(suite_path.parent.parent.parent.parent / "data" / "tiny" / "train.jsonl", train)
    loaded = load_suite(suite_path)
    fake = FakeClassifier()
    # lift 0: the floor is on the best raw score (the fit score is tested in test_fitting.py)
    (o,) = calibrate_suite(
        loaded, fake_factory(fake), EvalOptions(), none_fits_rate=0.2, none_fits_lift=0.0
    )
    cal = o.calibration
    assert cal.none_fits_labels == {}
    # floor(0.2 * 24) = 4 tickets may fall under it: the fifth-lowest best raw score, 1.0
    assert (cal.none_fits_floor, cal.none_fits_rate) == (1.0, 0.2)
    assert o.none_fits_fit is not None
    assert o.none_fits_fit.in_scope == pytest.approx(4 / 24)
    assert o.none_fits_fit.out_of_scope == 1.0
    assert cal.report is not None
    # held-out (the test split): the deployment's 0.30 flags no in-scope ticket; the fitted
    # floor, served at multi_fit (0.95), flags the five test tickets with one hit
    assert (cal.report.none_fits_in_scope_before, cal.report.none_fits_oos_before) == (0.0, 1.0)
    assert cal.report.none_fits_in_scope_after == pytest.approx(5 / 8)
    stored = load_calibration(
        loaded.rubric_path, loaded.rubric.fingerprint, "local", "fake/keywords", None
    )
    assert stored == cal
    report, _ = evaluate_suite(loaded, fake_factory(fake), EvalOptions())
    plain, calibrated = report.runs
    assert metric_value(plain, "none_fits_in_scope") == 0.0
    assert metric_value(calibrated, "none_fits_in_scope") == pytest.approx(5 / 8)
    assert metric_value(calibrated, "none_fits_oos") == 1.0
    assert report.calibration is not None
    assert report.calibration.used[0].none_fits_floor == 1.0
    # with the default lift, every label's traffic is fitted beside the floor
    (lifted,) = calibrate_suite(loaded, fake_factory(fake), EvalOptions(), write=False)
    assert set(lifted.calibration.none_fits_labels) == {"billing", "technical", "account"}
    assert lifted.calibration.none_fits_floor is not None
    # rate 0 keeps the deployment's floor
    (kept,) = calibrate_suite(
        loaded, fake_factory(fake), EvalOptions(), none_fits_rate=0.0, write=False
    )
    assert kept.calibration.none_fits_floor is None
    assert kept.calibration.none_fits_labels == {}
    assert kept.calibration.report is not None
    assert kept.calibration.report.none_fits_in_scope_after == 0.0


def test_recommend_thresholds(suite_path: Path) -> None:
    loaded = load_suite(suite_path)
    (advice,) = recommend_thresholds(
        loaded,
        fake_factory(FakeClassifier()),
        EvalOptions(split="test"),
        precision=0.9,
        review_precision=0.5,
    )
    assert advice.split == "test"
    assert advice.curve
    # the tiny data has fewer than the 10 tickets a threshold needs above it, or one exists;
    # either way the numbers are consistent
    if advice.auto_route is not None:
        assert advice.review is None or advice.review <= advice.auto_route


# --------------------------------------------------------------------------- CLI


@pytest.fixture
def cli(monkeypatch: pytest.MonkeyPatch) -> typer.Typer:
    app = typer.Typer()
    eval_cli.register(app)
    monkeypatch.setattr(eval_cli, "factory", fake_factory(FakeClassifier()))
    return app


runner = CliRunner()


def test_cli_eval_writes_report_and_gates(
    cli: typer.Typer, suite_path: Path, tmp_path: Path
) -> None:
    out = tmp_path / "reports"
    ok = runner.invoke(
        cli,
        [
            "eval",
            str(suite_path),
            "--out",
            str(out),
            "--fail-under",
            "macro_f1=0.5",
            "--fail-over",
            "ece=0.9",
        ],
    )
    assert ok.exit_code == 0, ok.output
    assert "macro-F1" in ok.output
    (report_dir,) = out.iterdir()
    assert report_dir.name.startswith("tiny-")
    assert {p.name for p in report_dir.iterdir()} >= {"metrics.json", "report.md", "coverage.png"}
    fail = runner.invoke(
        cli,
        ["eval", str(suite_path), "--out", str(out), "--no-plots", "--fail-under", "macro_f1=0.99"],
    )
    assert fail.exit_code == 1, fail.output
    assert "FAIL" in fail.output
    bad = runner.invoke(cli, ["eval", str(suite_path), "--fail-under", "nonsense=1"])
    assert bad.exit_code == 2


def test_cli_baseline_detects_regression(
    cli: typer.Typer, suite_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "reports"
    first = runner.invoke(cli, ["eval", str(suite_path), "--out", str(out), "--no-plots"])
    assert first.exit_code == 0, first.output
    (baseline,) = out.iterdir()
    same = runner.invoke(
        cli, ["eval", str(suite_path), "--out", str(out), "--no-plots", "--baseline", str(baseline)]
    )
    assert same.exit_code == 0, same.output
    worse = FakeClassifier(swap={"refund my order": "account", "where is my invoice": "account"})
    monkeypatch.setattr(eval_cli, "factory", fake_factory(worse))
    regressed = runner.invoke(
        cli,
        [
            "eval",
            str(suite_path),
            "--out",
            str(out),
            "--no-plots",
            "--baseline",
            str(baseline / "metrics.json"),
            "--tolerance",
            "0.05",
        ],
    )
    assert regressed.exit_code == 1, regressed.output
    assert "beyond tolerance" in regressed.output
    latest = max(out.iterdir(), key=lambda p: p.stat().st_mtime_ns)
    report = SuiteReport.model_validate_json((latest / "metrics.json").read_text())
    paired = [c for c in report.comparisons if c.a == "local+baseline"]
    assert paired and paired[0].n_broken == 2
    compared = runner.invoke(cli, ["compare", str(baseline), str(latest), "--tolerance", "0.05"])
    assert compared.exit_code == 1, compared.output
    assert "McNemar" in compared.output


def test_cli_missing_data_is_an_error_unless_allowed(
    cli: typer.Typer, suite_path: Path, tmp_path: Path
) -> None:
    """Issue 16.3: a typo in a data path is not a skipped suite."""
    missing = ["eval", str(suite_path), "--data-dir", str(tmp_path / "nowhere")]
    failed = runner.invoke(cli, missing)
    assert failed.exit_code == 3, failed.output
    assert "error" in failed.output and "skipped" not in failed.output
    assert str(tmp_path / "nowhere") in failed.output  # names the path it looked at
    assert runner.invoke(cli, [*missing, "--require-data"]).exit_code == 3  # still accepted
    allowed = runner.invoke(cli, [*missing, "--allow-missing"])
    assert allowed.exit_code == 0, allowed.output
    assert "skipped" in allowed.output
    for command in (["calibrate"], ["thresholds"]):
        args = [*command, str(suite_path), "--data-dir", str(tmp_path / "nowhere")]
        assert runner.invoke(cli, args).exit_code == 3
        assert runner.invoke(cli, [*args, "--allow-missing"]).exit_code == 0


def test_cli_calibrate_and_thresholds(cli: typer.Typer, suite_path: Path) -> None:
    dry = runner.invoke(cli, ["calibrate", str(suite_path), "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert "held-out, after" in dry.output
    assert "none_fits floor: the deployment's (none fitted)" in dry.output  # 8 in-scope: too few
    assert not suite_path.parent.parent.joinpath("rubrics", "tiny.calibration.json").exists()
    done = runner.invoke(cli, ["calibrate", str(suite_path)])
    assert done.exit_code == 0, done.output
    written = suite_path.parent.parent.joinpath("rubrics", "tiny.calibration.json")
    (entry,) = json.loads(written.read_text())["entries"]
    assert entry["objective"] == "confidence"
    assert entry["label_thresholds"] == {}
    nll = runner.invoke(
        cli, ["calibrate", str(suite_path), "--objective", "nll", "--label-thresholds"]
    )
    assert nll.exit_code == 0, nll.output
    (entry,) = json.loads(written.read_text())["entries"]  # replaced, not added
    assert entry["objective"] == "nll"
    bad = runner.invoke(cli, ["calibrate", str(suite_path), "--objective", "magic"])
    assert bad.exit_code == 2
    advice = runner.invoke(
        cli, ["thresholds", str(suite_path), "--precision", "0.9", "--split", "test"]
    )
    assert advice.exit_code == 0, advice.output
    assert "thresholds: {auto_route:" in advice.output


def test_calibration_skips_tickets_the_rubric_carries_as_examples(suite_path: Path) -> None:
    rubric = suite_path.parent.parent / "rubrics" / "tiny.yaml"
    rubric.write_text(
        RUBRIC.replace(
            "    rubric: Is this text about a charge, refund or invoice?\n",
            "    rubric: Is this text about a charge, refund or invoice?\n"
            "    examples: ['Invoice  missing']\n",
        )
    )
    loaded = load_suite(suite_path)
    assert loaded.rubric_examples() == {"invoice missing"}
    (o,) = calibrate_suite(loaded, fake_factory(FakeClassifier()), EvalOptions(), write=False)
    assert o.written_to is None
    assert o.calibration.report is not None
    assert o.calibration.report.n_fit == 7  # 8 in-scope train tickets, one is a rubric example
