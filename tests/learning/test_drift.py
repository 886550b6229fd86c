"""Drift: PSI and chi-square per window against a reference, confidence, none-fits, accuracy,
the warning (log and observer), the rubric-edit split, the table and the plot."""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from rich.console import Console
from scipy.stats import chi2_contingency

from gateway.learning.drift import OTHER, DriftOptions, DriftReport, drift_report
from gateway.learning.drift_plot import plot_drift
from gateway.learning.drift_stats import chi_square, psi, psi_noise
from gateway.learning.drift_table import drift_summary, drift_table
from gateway.store.records import DriftPoint

LABELS = ["billing", "refund", "login", "bug", "feature", "shipping", "account"]
BASE = np.array([0.35, 0.25, 0.12, 0.10, 0.08, 0.06, 0.04])
# from the shift on, billing's share doubles and refund's halves; the rest shrink to fit
SHIFTED = np.concatenate([[0.70, 0.125], BASE[2:] * 0.175 / BASE[2:].sum()])  # PSI 0.52
T0 = datetime(2025, 3, 1, tzinfo=UTC)
DAYS = 14
PER_DAY = 1000
FP = "a" * 64
OPTIONS = DriftOptions(since=T0, as_of=T0 + timedelta(days=DAYS))


def stream(
    *,
    shift_from: int | None = None,
    seed: int = 0,
    days: int = DAYS,
    per_day: int = PER_DAY,
    fingerprint: str = FP,
    fingerprint_from: tuple[int, str] | None = None,
) -> list[DriftPoint]:
    """``per_day`` tickets a day at random times, labels drawn from BASE (SHIFTED from day
    ``shift_from``); a tenth of them labelled by a human, right 80% of the time."""
    rng = np.random.default_rng(seed)
    points = []
    for day in range(days):
        probs = SHIFTED if shift_from is not None and day >= shift_from else BASE
        fp = fingerprint
        if fingerprint_from is not None and day >= fingerprint_from[0]:
            fp = fingerprint_from[1]
        for label in rng.choice(LABELS, size=per_day, p=probs / probs.sum()):
            at = T0 + timedelta(days=day, seconds=float(rng.uniform(0, 86_399)))
            human = None
            if rng.random() < 0.1:
                human = label if rng.random() < 0.8 else str(rng.choice(LABELS))
            points.append(
                DriftPoint(
                    at=at,
                    top_label=str(label),
                    confidence=float(rng.uniform(0.5, 1.0)),
                    none_fits=bool(rng.random() < 0.05),
                    fingerprint=fp,
                    label=human,
                )
            )
    rng.shuffle(points)  # the report sorts
    return points


def report_of(points: Sequence[DriftPoint], **options: object) -> DriftReport:
    return drift_report(
        points,
        rubric="support",
        axis="category",
        labels=LABELS,
        options=OPTIONS.model_copy(update=options),
    )


class Recorder:
    def __init__(self) -> None:
        self.reports: list[DriftReport] = []

    def drift(self, report: DriftReport) -> None:
        self.reports.append(report)


# --------------------------------------------------------------------------- statistics


def test_psi_is_zero_for_equal_shares_and_finite_with_an_empty_bin() -> None:
    assert psi({"a": 10, "b": 30}, {"a": 10, "b": 30}, ["a", "b"]) == 0.0
    assert psi({"a": 10, "b": 30}, {"a": 20, "b": 60}, ["a", "b"]) < 1e-3  # smoothing only
    value = psi({"a": 50, "b": 50}, {"a": 100}, ["a", "b"])
    assert 0 < value < math.inf
    assert psi({"a": 50, "b": 50}, {"a": 100}, ["a", "b"], epsilon=0) == math.inf


def test_psi_by_hand_over_the_union_of_labels() -> None:
    ref, cur = {"a": 40, "b": 60}, {"a": 60, "b": 30, "c": 10}  # "c" is in no label list
    q = [(40 + 0.5) / 101.5, (60 + 0.5) / 101.5, 0.5 / 101.5]
    p = [(60 + 0.5) / 101.5, (30 + 0.5) / 101.5, (10 + 0.5) / 101.5]
    expected = sum((pi - qi) * math.log(pi / qi) for pi, qi in zip(p, q, strict=True))
    assert psi(ref, cur, ["a", "b"]) == pytest.approx(expected)
    # a label empty on both sides changes nothing
    assert psi(ref, cur, ["a", "b", "never"]) == pytest.approx(expected)


def test_psi_noise_matches_the_sampling_floor() -> None:
    # k labels, n per side: about (k - 1) * (1/n + 1/n)
    counts = {label: 100 for label in "abcdefgh"}
    assert psi_noise(counts, counts) == pytest.approx(7 * 2 / 800, rel=0.25)


def test_chi_square_drops_columns_empty_on_both_sides() -> None:
    ref, cur = {"a": 30, "b": 10, "z": 0}, {"a": 20, "b": 25, "z": 0}
    expected = chi2_contingency([[30, 10], [20, 25]])
    result = chi_square(ref, cur)
    assert result.statistic == pytest.approx(expected.statistic)
    assert result.p_value == pytest.approx(expected.pvalue)
    assert chi_square({"a": 3}, {"a": 5}) == (0.0, 1.0)  # one label: nothing to test
    assert chi_square({"a": 3, "b": 1}, {}) == (0.0, 1.0)


# --------------------------------------------------------------------------- the stream


def test_a_stable_stream_stays_far_below_the_warning(caplog: pytest.LogCaptureFixture) -> None:
    observer = Recorder()
    with caplog.at_level(logging.WARNING, logger="gateway.drift"):
        report = drift_report(
            stream(seed=1),
            rubric="support",
            axis="category",
            labels=LABELS,
            options=OPTIONS,
            observer=observer,
        )
    assert len(report.windows) == DAYS
    assert report.reference is not None and report.reference.start == T0
    assert report.windows[0].is_reference
    later = report.windows[1:]
    assert all(w.full and not w.small for w in later)
    assert max(w.psi for w in later) < 0.05
    assert max(w.psi_raw for w in later) < 0.1
    assert min(w.p_value for w in later) > 1e-3
    assert not report.any_warning and not any(w.warn for w in report.windows)
    assert caplog.records == []
    assert observer.reports == [report]  # told even when nothing drifted
    assert report.latest == report.windows[-1]


def test_a_reweighted_stream_warns_in_the_shifted_windows(
    caplog: pytest.LogCaptureFixture,
) -> None:
    observer = Recorder()
    with caplog.at_level(logging.WARNING, logger="gateway.drift"):
        report = drift_report(
            stream(shift_from=7, seed=2),
            rubric="support",
            axis="category",
            labels=LABELS,
            options=OPTIONS,
            observer=observer,
        )
    before, after = report.windows[1:7], report.windows[7:]
    assert max(w.psi for w in before) < 0.05 and not any(w.warn for w in before)
    assert min(w.psi for w in after) > 0.35
    assert all(w.warn and w.significant and w.p_value < 1e-10 for w in after)
    assert report.any_warning and observer.reports == [report]
    assert report.latest is not None and report.latest.warn
    assert report.latest.movers[0].label == "billing"
    assert report.latest.movers[0].reference_share == pytest.approx(0.35, abs=0.05)
    assert report.latest.movers[0].share == pytest.approx(0.7, abs=0.05)

    assert len(caplog.records) == len(after)
    first = caplog.records[0].getMessage()
    assert "support.category" in first and FP[:12] in first and FP not in first
    assert "PSI" in first and "2025-03-08T00:00:00+00:00" in first
    assert all(r.levelno == logging.WARNING for r in caplog.records)


def test_means_and_shares_by_hand() -> None:
    at = T0 + timedelta(hours=1)
    points = [
        DriftPoint(at=at, top_label="billing", confidence=0.9, none_fits=True, fingerprint=FP),
        DriftPoint(
            at=at,
            top_label="billing",
            confidence=0.7,
            none_fits=False,
            fingerprint=FP,
            label="billing",
        ),
        DriftPoint(
            at=at,
            top_label="refund",
            confidence=0.5,
            none_fits=False,
            fingerprint=FP,
            label="login",
        ),
        DriftPoint(at=at, top_label="login", confidence=0.3, none_fits=True, fingerprint=FP),
    ]
    (w,) = report_of(points, min_points=1).windows
    assert w.n == 4 and w.n_labelled == 2
    assert w.mean_confidence == pytest.approx(0.6)
    assert w.none_fits_share == pytest.approx(0.5)
    assert w.observed_accuracy == pytest.approx(0.5)
    assert w.estimated_accuracy == pytest.approx(0.6)  # (0.7 + 0.5) / 2: the labelled ones
    assert w.shares["billing"] == 0.5 and w.shares["account"] == 0.0
    assert w.psi == 0.0 and w.p_value == 1.0 and w.is_reference


def test_no_labels_no_accuracy() -> None:
    points = [p.model_copy(update={"label": None}) for p in stream(days=2, per_day=50)]
    report = report_of(points)
    assert all(w.observed_accuracy is None and w.estimated_accuracy is None for w in report.windows)
    assert all(w.n_labelled == 0 for w in report.windows)


def test_observed_accuracy_on_the_stream() -> None:
    points = stream(seed=3)
    report = report_of(points)
    for w in report.windows:
        mine = [p for p in points if w.start <= p.at < w.end and p.label is not None]
        assert w.n_labelled == len(mine) > 50
        right = sum(p.label == p.top_label for p in mine)
        assert w.observed_accuracy == pytest.approx(right / len(mine))
        assert w.estimated_accuracy == pytest.approx(sum(p.confidence for p in mine) / len(mine))
    # right 80% of the time, plus the wrong draws that hit the label anyway (1/7 of 20%)
    right = sum(w.observed_accuracy * w.n_labelled for w in report.windows if w.observed_accuracy)
    assert right / sum(w.n_labelled for w in report.windows) == pytest.approx(0.83, abs=0.04)


def test_small_and_partial_windows_do_not_warn(caplog: pytest.LogCaptureFixture) -> None:
    points = stream(days=3, per_day=300)
    # day 3: ten tickets, all billing; day 4 (after as_of): a partial, heavily shifted window
    extra = [
        DriftPoint(
            at=T0 + timedelta(days=d, hours=h),
            top_label="billing",
            confidence=0.8,
            none_fits=False,
            fingerprint=FP,
        )
        for d, hours in ((3, range(10)), (4, range(200)))
        for h in (x / 20 for x in hours)
    ]
    with caplog.at_level(logging.WARNING, logger="gateway.drift"):
        report = report_of(points + extra, as_of=T0 + timedelta(days=4, hours=12))
    small, partial = report.windows[3], report.windows[4]
    assert small.small and small.psi > 0.2 and not small.warn
    assert not partial.small and not partial.full and partial.psi > 0.2 and not partial.warn
    assert report.latest == report.windows[2]
    assert not report.any_warning and caplog.records == []


def test_the_reference_skips_a_thin_or_partial_first_window() -> None:
    points = stream(days=4, per_day=200)
    # since mid-day 0: day 0's window started before the range, so it is partial
    since = T0 + timedelta(hours=12)
    report = report_of([p for p in points if p.at >= since], since=since)
    assert not report.windows[0].full and report.windows[0].n >= 30
    assert report.reference is not None and report.reference.start == T0 + timedelta(days=1)
    # thin: fewer than min_points on the first day
    thin = [p for p in points if p.at >= T0 + timedelta(hours=23, minutes=30)]
    report = report_of(thin)
    assert report.windows[0].small
    assert report.reference is not None and report.reference.start == T0 + timedelta(days=1)


def test_a_configured_reference_range() -> None:
    start, end = T0 + timedelta(days=2), T0 + timedelta(days=4)
    report = report_of(stream(shift_from=7, seed=4), reference=(start, end))
    ref = report.reference
    assert ref is not None and (ref.start, ref.end) == (start, end)
    assert ref.n == 2 * PER_DAY and ref.is_reference
    assert not any(w.is_reference for w in report.windows)
    assert all(w.warn for w in report.windows[7:]) and not any(w.warn for w in report.windows[:7])
    with pytest.raises(ValueError, match="reference range"):
        report_of(stream(days=2), reference=(T0 - timedelta(days=9), T0 - timedelta(days=8)))


def test_a_rubric_edit_starts_a_new_reference(caplog: pytest.LogCaptureFixture) -> None:
    # the edit (day 7) changes the predictions: against its own fingerprint's first window
    # that is no drift, and the first window of the new fingerprint is its reference
    edited = "b" * 64
    with caplog.at_level(logging.WARNING, logger="gateway.drift"):
        report = report_of(stream(shift_from=7, fingerprint_from=(7, edited), seed=5))
    assert report.fingerprints == [FP, edited]
    assert set(report.references) == {FP, edited}
    assert report.references[edited].start == T0 + timedelta(days=7)
    assert report.reference == report.references[edited]
    assert [w.fingerprint for w in report.windows] == [FP] * 7 + [edited] * 7
    assert not report.any_warning and caplog.records == []
    assert max(w.psi for w in report.windows) < 0.05
    assert report.latest is not None and report.latest.fingerprint == edited


def test_labels_the_rubric_no_longer_has_count_as_other() -> None:
    points = [p.model_copy(update={"top_label": "legacy"}) for p in stream(days=1, per_day=40)[:5]]
    report = report_of(points + stream(days=1, per_day=40, seed=6), min_points=1)
    assert report.labels == [*LABELS, OTHER]
    assert report.windows[0].shares[OTHER] == pytest.approx(5 / 45)


def test_no_points() -> None:
    observer = Recorder()
    report = drift_report([], rubric="support", axis="category", labels=LABELS, observer=observer)
    assert report.windows == [] and report.reference is None and report.latest is None
    assert observer.reports == [report]
    assert "no classified tickets" in drift_summary(report)


def test_naive_times_are_utc() -> None:
    points = [p.model_copy(update={"at": p.at.replace(tzinfo=None)}) for p in stream(days=2)]
    report = report_of(points)
    assert [w.start for w in report.windows] == [T0, T0 + timedelta(days=1)]


def test_hourly_windows() -> None:
    report = report_of(stream(days=1, per_day=2400), window=timedelta(hours=1))
    assert len(report.windows) == 24
    assert all(w.end - w.start == timedelta(hours=1) for w in report.windows)


# --------------------------------------------------------------------------- table and plot


def test_the_table_shows_each_window_and_its_psi() -> None:
    report = report_of(stream(shift_from=7, seed=2))
    console = Console(record=True, width=200)
    console.print(drift_table(report))
    text = console.export_text()
    for w in report.windows:
        assert w.start.strftime("%Y-%m-%d") in text
        assert f"{w.psi:.3f}" in text
    assert "2025-03-01 ref" in text
    summary = drift_summary(report)
    assert "latest 2025-03-14" in summary and "7 window(s) over PSI 0.2" in summary
    assert "billing" in summary  # the mover


def test_the_table_after_a_rubric_edit_has_a_fingerprint_column() -> None:
    report = report_of(stream(days=4, fingerprint_from=(2, "b" * 64)))
    console = Console(record=True, width=200)
    console.print(drift_table(report))
    text = console.export_text()
    assert "fingerprint" in text and "bbbbbbbbbbbb" in text and text.count(" ref ") == 2


def _png(path: Path) -> bytes:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return data


def test_plot_writes_a_png(tmp_path: Path) -> None:
    report = report_of(stream(shift_from=7, seed=2))
    path = plot_drift(report, tmp_path / "drift" / "nested" / "support.category.png")
    assert path == tmp_path / "drift" / "nested" / "support.category.png"
    assert len(_png(path)) > 20_000


def test_plot_with_many_labels_an_edit_and_no_points(tmp_path: Path) -> None:
    labels = [f"label_{i:02d}" for i in range(77)]
    rng = np.random.default_rng(7)
    weights = rng.dirichlet(np.ones(77))
    points = [
        DriftPoint(
            at=T0 + timedelta(days=d, seconds=float(rng.uniform(0, 86_399))),
            top_label=str(rng.choice(labels, p=weights)),
            confidence=float(rng.uniform(0.3, 1)),
            none_fits=bool(rng.random() < 0.1),
            fingerprint=FP if d < 5 else "b" * 64,
        )
        for d in range(10)
        for _ in range(500)
    ]
    report = drift_report(points, rubric="big", axis="topic", labels=labels, options=OPTIONS)
    assert len(_png(plot_drift(report, tmp_path / "big.png"))) > 20_000
    empty = drift_report([], rubric="big", axis="topic", labels=labels)
    assert len(_png(plot_drift(empty, tmp_path / "empty.png"))) > 1_000


# --------------------------------------------------------------------------- metrics


def _sample(text: str, name: str, **labels: str) -> float | None:
    for line in text.splitlines():
        if line.startswith(name + "{") and all(f'{k}="{v}"' in line for k, v in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    return None


def test_metrics_gauges_and_the_warning_counter() -> None:
    from gateway.server.metrics import Metrics

    metrics = Metrics()
    report = drift_report(
        stream(shift_from=7, seed=2),
        rubric="support",
        axis="category",
        labels=LABELS,
        options=OPTIONS,
        observer=metrics,
    )
    metrics.drift(report)  # the same window again: not counted twice
    text = metrics.text().decode()
    w = report.latest
    assert w is not None
    where = {"rubric": "support", "axis": "category", "fingerprint": FP[:12]}
    assert _sample(text, "gateway_drift_psi", **where) == pytest.approx(w.psi)
    assert _sample(text, "gateway_drift_mean_confidence", **where) == pytest.approx(
        w.mean_confidence
    )
    assert _sample(text, "gateway_drift_none_fits_share", **where) == pytest.approx(
        w.none_fits_share
    )
    assert _sample(text, "gateway_drift_observed_accuracy", **where) == pytest.approx(
        w.observed_accuracy
    )
    assert _sample(text, "gateway_drift_warnings_total", rubric="support", axis="category") == 1

    # an edited rubric: the gauges move to the new fingerprint, the old series go
    edited = drift_report(
        stream(fingerprint_from=(0, "b" * 64)),
        rubric="support",
        axis="category",
        labels=LABELS,
        options=OPTIONS,
        observer=metrics,
    )
    text = metrics.text().decode()
    assert _sample(text, "gateway_drift_psi", fingerprint=FP[:12]) is None
    assert edited.latest is not None
    assert _sample(text, "gateway_drift_psi", fingerprint="b" * 12) == pytest.approx(
        edited.latest.psi
    )
    assert _sample(text, "gateway_drift_warnings_total", rubric="support", axis="category") == 1


def test_metrics_count_what_the_recorder_did() -> None:
    from gateway.server.metrics import Metrics

    metrics = Metrics()  # the recorder's RecorderObserver (mypy checks the protocol in state.py)
    metrics.observations_recorded(5)
    metrics.observations_recorded(2)
    metrics.observations_lost(3)
    metrics.store_failed()
    text = metrics.text().decode()
    assert "gateway_observations_recorded_total 7.0" in text
    assert "gateway_observations_lost_total 3.0" in text
    assert "gateway_store_failures_total 1.0" in text
