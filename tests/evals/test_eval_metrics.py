"""Metric functions against hand-computed cases, and against scikit-learn / scipy where present."""

from __future__ import annotations

import math

import numpy as np
import pytest

from gateway.evals import (
    accuracy_of,
    auroc,
    bootstrap_delta,
    brier_score,
    classification_metrics,
    confusion_matrix,
    coverage_curve,
    ece_floor,
    expected_calibration_error,
    macro_f1_from_arrays,
    mcnemar,
    multilabel_metrics,
    percentile,
    reliability_bins,
    routing,
    threshold_for_precision,
    wilson_lower,
)

LABELS = ["a", "b", "c"]
Y_TRUE = [0, 0, 1, 1, 2]
Y_PRED = [0, 1, 1, 1, 0]


def test_classification_hand_computed() -> None:
    m = classification_metrics(Y_TRUE, Y_PRED, LABELS)
    assert m.accuracy == pytest.approx(0.6)
    # a: tp1 fp1 fn1; b: tp2 fp1 fn0; c: tp0 fp0 fn1
    assert m.per_label["a"].f1 == pytest.approx(0.5)
    assert m.per_label["b"].precision == pytest.approx(2 / 3)
    assert m.per_label["b"].recall == pytest.approx(1.0)
    assert m.per_label["b"].f1 == pytest.approx(0.8)
    assert m.per_label["c"].f1 == 0.0
    assert m.per_label["c"].support == 1
    assert m.macro_f1 == pytest.approx((0.5 + 0.8 + 0.0) / 3)
    assert m.weighted_f1 == pytest.approx((0.5 * 2 + 0.8 * 2) / 5)
    assert macro_f1_from_arrays(np.array(Y_TRUE), np.array(Y_PRED), 3) == pytest.approx(m.macro_f1)


def test_confusion_matrix_hand_computed() -> None:
    assert confusion_matrix(Y_TRUE, Y_PRED, 3).tolist() == [[1, 1, 0], [0, 2, 0], [1, 0, 0]]
    # a missing prediction (-1) is dropped from the matrix but counts as wrong elsewhere
    assert confusion_matrix([0, 1], [0, -1], 2).tolist() == [[1, 0], [0, 0]]
    m = classification_metrics([0, 1], [0, -1], ["a", "b"])
    assert m.accuracy == 0.5
    assert m.per_label["b"].recall == 0.0


def test_macro_skips_labels_nobody_has_or_predicted() -> None:
    m = classification_metrics([0, 0], [0, 0], ["a", "b", "c"])
    assert m.macro_f1 == 1.0
    assert set(m.per_label) == {"a"}


def test_macro_averages_over_gold_labels_only() -> None:
    # gold a, a, b; predicted a, c, b: c has no gold ticket, so it is not averaged in
    m = classification_metrics([0, 0, 1], [0, 2, 1], ["a", "b", "c"])
    assert m.per_label["c"].support == 0  # still listed, with its precision of 0
    assert m.macro_f1 == pytest.approx((2 / 3 + 1.0) / 2)
    assert m.macro_precision == pytest.approx((1.0 + 1.0) / 2)
    assert m.macro_recall == pytest.approx((0.5 + 1.0) / 2)
    assert macro_f1_from_arrays(np.array([0, 0, 1]), np.array([0, 2, 1]), 3) == pytest.approx(
        m.macro_f1
    )
    ml = multilabel_metrics([[1, 0, 0], [0, 1, 0]], [[1, 0, 1], [0, 1, 0]], ["a", "b", "c"])
    assert ml.macro_f1 == 1.0 and "c" in ml.per_label


def test_empty_inputs() -> None:
    assert classification_metrics([], [], LABELS).accuracy == 0.0
    assert expected_calibration_error([], []) == 0.0
    assert auroc([0.1], [True]) is None
    assert percentile([], 50) is None


def test_against_sklearn() -> None:
    sk = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(3)
    for _ in range(5):
        t = rng.integers(0, 6, 300)
        p = np.where(rng.random(300) < 0.6, t, rng.integers(0, 7, 300))
        labels = [f"l{i}" for i in range(7)]
        m = classification_metrics(t, p, labels)
        assert m.accuracy == pytest.approx(sk.accuracy_score(t, p))
        # macro over the gold labels: label 6 is only ever predicted
        gold = sorted(set(t.tolist()))
        assert m.macro_f1 == pytest.approx(
            sk.f1_score(t, p, labels=gold, average="macro", zero_division=0)
        )
        assert m.weighted_f1 == pytest.approx(
            sk.f1_score(t, p, average="weighted", zero_division=0)
        )
        pr, rc, f1, sup = sk.precision_recall_fscore_support(
            t, p, labels=list(range(7)), zero_division=0
        )
        for i, name in enumerate(labels):
            if name in m.per_label:
                stats = m.per_label[name]
                assert (stats.precision, stats.recall, stats.f1, stats.support) == pytest.approx(
                    (pr[i], rc[i], f1[i], sup[i])
                )
        assert (
            confusion_matrix(t, p, 7).tolist()
            == sk.confusion_matrix(t, p, labels=list(range(7))).tolist()
        )
        scores = np.round(rng.random(300), 2)  # rounding makes ties
        positive = rng.random(300) < 0.3
        assert auroc(scores, positive) == pytest.approx(sk.roc_auc_score(positive, scores))


def test_multilabel_against_sklearn() -> None:
    sk = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(5)
    t = rng.random((200, 6)) < 0.3
    p = np.where(rng.random((200, 6)) < 0.8, t, ~t)
    m = multilabel_metrics(t, p, [f"l{i}" for i in range(6)])
    assert m.micro_f1 == pytest.approx(sk.f1_score(t, p, average="micro"))
    assert m.macro_f1 == pytest.approx(sk.f1_score(t, p, average="macro", zero_division=0))
    assert m.exact_match == pytest.approx(sk.accuracy_score(t, p))
    assert m.weighted_f1 == pytest.approx(sk.f1_score(t, p, average="weighted", zero_division=0))
    assert m.macro_recall == pytest.approx(sk.recall_score(t, p, average="macro", zero_division=0))


def test_multilabel_hand_computed() -> None:
    t = [[1, 0, 1], [0, 1, 0]]
    p = [[1, 1, 0], [0, 1, 0]]
    m = multilabel_metrics(t, p, LABELS)
    # micro: tp 2, fp 1, fn 1 -> f1 = 4 / 6
    assert m.micro_f1 == pytest.approx(4 / 6)
    assert m.exact_match == 0.5
    # a: 1.0; b: tp1 fp1 -> 2/3; c: 0
    assert m.macro_f1 == pytest.approx((1 + 2 / 3 + 0) / 3)


def test_ece_and_bins_hand_computed() -> None:
    conf = [0.9, 0.9, 0.6, 0.6]
    ok = [1, 0, 1, 1]
    # bin (0.8, 0.9]: conf .9, acc .5; bin (0.5, 0.6]: conf .6, acc 1 -> (2*.4 + 2*.4) / 4
    assert expected_calibration_error(conf, ok, n_bins=10) == pytest.approx(0.4)
    bins = reliability_bins(conf, ok, n_bins=10)
    assert [b.count for b in bins] == [0, 0, 0, 0, 0, 2, 0, 0, 2, 0]
    assert expected_calibration_error([1.0, 0.0], [1, 0], n_bins=15) == 0.0
    assert expected_calibration_error([0.75] * 4, [1, 1, 1, 0]) == pytest.approx(0.0)


def test_ece_floor_is_what_perfect_calibration_shows_on_so_few_tickets() -> None:
    # a scorer right exactly as often as it says still shows an ECE on 60 tickets; the floor
    # shrinks with more tickets and is nil when every confidence is 0 or 1
    rng = np.random.default_rng(1)
    conf = rng.uniform(0.5, 1.0, 60)
    median, high = ece_floor(conf)
    assert 0.05 < median < high < 0.3
    many_median, _ = ece_floor(np.tile(conf, 50))
    assert many_median < median / 3
    assert ece_floor([1.0, 0.0, 1.0]) == (0.0, 0.0)
    assert ece_floor([]) == (0.0, 0.0)
    assert ece_floor(conf, seed=3) == ece_floor(conf, seed=3)


def test_brier_hand_computed() -> None:
    probs = [[0.7, 0.2, 0.1], [0.1, 0.8, 0.1]]
    # (.09 + .04 + .01) and (.01 + .64 + .81)
    assert brier_score(probs, [0, 2]) == pytest.approx((0.14 + 1.46) / 2)
    # out of scope (-1): every probability is an error
    assert brier_score([[0.5, 0.5]], [-1]) == pytest.approx(0.5)


def test_brier_against_sklearn() -> None:
    sk = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(7)
    probs = rng.dirichlet(np.ones(4), 100)
    y = rng.integers(0, 4, 100)
    expected = sk.brier_score_loss(y, probs, labels=[0, 1, 2, 3], scale_by_half=False)
    assert brier_score(probs, y) == pytest.approx(expected)


def test_auroc_hand_computed() -> None:
    assert auroc([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1]) == pytest.approx(0.75)
    assert auroc([0.5, 0.5], [1, 0]) == pytest.approx(0.5)
    assert auroc([0.9, 0.1], [1, 0]) == 1.0


def test_mcnemar_exact_and_chi2() -> None:
    a = [True] * 1 + [False] * 5 + [True] * 10
    b = [False] * 1 + [True] * 5 + [True] * 10
    exact = mcnemar(a, b)
    assert (exact.b, exact.c, exact.method) == (1, 5, "exact")
    assert exact.p_value == pytest.approx(2 * 7 / 64)  # P(X <= 1 | n=6) = 7/64, two-sided
    a = [True] * 10 + [False] * 30
    b = [False] * 10 + [True] * 30
    approx = mcnemar(a, b)
    assert approx.method == "chi2-cc"
    assert approx.statistic == pytest.approx(361 / 40)
    assert approx.p_value == pytest.approx(math.erfc(math.sqrt(361 / 80)))
    assert mcnemar([True, False], [True, False]).p_value == 1.0


def test_mcnemar_against_scipy() -> None:
    stats = pytest.importorskip("scipy.stats")
    for b, c in [(0, 3), (2, 9), (7, 7), (4, 16)]:
        a = [True] * b + [False] * c
        bb = [False] * b + [True] * c
        assert mcnemar(a, bb).p_value == pytest.approx(stats.binomtest(b, b + c).pvalue)
    a = [True] * 20 + [False] * 45
    bb = [False] * 20 + [True] * 45
    assert mcnemar(a, bb).p_value == pytest.approx(stats.chi2.sf((25 - 1) ** 2 / 65, 1))


def test_threshold_for_precision() -> None:
    conf = [0.95, 0.9, 0.8, 0.7, 0.6]
    ok = [1, 1, 0, 1, 0]
    assert threshold_for_precision(conf, ok, 0.75) == pytest.approx(0.7)
    assert threshold_for_precision(conf, ok, 1.0) == pytest.approx(0.9)
    assert threshold_for_precision(conf, ok, 1.0, min_count=3) is None
    # a cut never splits tied confidences
    assert threshold_for_precision([0.9, 0.9, 0.5], [1, 0, 1], 1.0) is None


def test_routing() -> None:
    r = routing(["auto_route", "auto_route", "review", "manual", "escalate"], [1, 0, 1, 0, 0])
    assert (r.auto_route.n, r.auto_route.share, r.auto_route.accuracy) == (2, 0.4, 0.5)
    assert (r.review.n, r.review.accuracy) == (1, 1.0)
    assert (r.manual.n, r.manual.accuracy) == (2, 0.0)


def test_coverage_curve() -> None:
    pts = coverage_curve([0.9, 0.8, 0.3], [1, 0, 1], [0.0, 0.5, 0.95])
    assert [(p.coverage, p.accuracy) for p in pts] == [
        (1.0, pytest.approx(2 / 3)),
        (pytest.approx(2 / 3), 0.5),
        (0.0, None),
    ]


def test_bootstrap_delta() -> None:
    t = np.array([0, 1, 2, 0, 1, 2] * 20)
    same = bootstrap_delta(accuracy_of, t, t, t, n_resamples=200)
    assert (same.estimate, same.low, same.high) == (0.0, 0.0, 0.0)
    worse = np.where(np.arange(t.size) % 3 == 0, (t + 1) % 3, t)
    better = bootstrap_delta(accuracy_of, t, worse, t, n_resamples=300, seed=1)
    assert better.estimate == pytest.approx(1 / 3)
    assert 0.0 < better.low <= better.estimate <= better.high


def test_threshold_for_precision_at_a_lower_bound_is_stricter() -> None:
    # 20 sure and right, then 10 at 0.6 of which 1 wrong: 29/30 ≈ 0.967 at the point estimate
    conf = [0.9] * 20 + [0.6] * 10
    ok = [1] * 20 + [1] * 9 + [0]
    assert threshold_for_precision(conf, ok, 0.95) == pytest.approx(0.6)
    # the one-sided 95% Wilson bound of 29/30 is ~0.864, of 20/20 ~0.881: neither reaches 0.95
    assert threshold_for_precision(conf, ok, 0.95, z=1.645) is None
    assert threshold_for_precision(conf, ok, 0.87, z=1.645) == pytest.approx(0.9)
    assert wilson_lower([29], [30], 0.0)[0] == pytest.approx(29 / 30)
    assert wilson_lower([29], [30], 1.645)[0] == pytest.approx(0.8636, abs=1e-3)
