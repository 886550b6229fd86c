"""Fitting a calibration offline: temperatures (NLL and confidence objectives) and per-label
auto-route thresholds."""

from __future__ import annotations

import numpy as np
import pytest

from gateway.evals import (
    confidence_loss,
    expected_calibration_error,
    fit_temperature,
    fit_temperature_to_confidence,
    label_thresholds,
    log_softmax,
    nll,
    set_nll,
)
from gateway.pipeline.calibration import apply_temperature


def _miscalibrated(
    true_t: float, n: int = 4000, k: int = 8, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Logits whose softmax is overconfident by ``true_t``: labels are drawn from
    softmax(z / true_t), but a model reports softmax(z)."""
    rng = np.random.default_rng(seed)
    z = rng.normal(0, 3, (n, k))
    p = apply_temperature(z, true_t)
    y = np.array([rng.choice(k, p=row) for row in p])
    return z, y


@pytest.mark.parametrize("true_t", [0.5, 2.0, 3.0])
def test_fit_recovers_temperature_and_lowers_nll(true_t: float) -> None:
    z, y = _miscalibrated(true_t)
    t = fit_temperature(z, y)
    assert t == pytest.approx(true_t, rel=0.1)
    before = nll(log_softmax(z), y)
    after = nll(log_softmax(z / t), y)
    assert after < before
    conf_before = apply_temperature(z, 1.0).max(axis=1)
    conf_after = apply_temperature(z, t).max(axis=1)
    correct = z.argmax(axis=1) == y
    ece_after = expected_calibration_error(conf_after, correct)
    assert ece_after < expected_calibration_error(conf_before, correct)
    assert ece_after < 0.03


@pytest.mark.parametrize("true_t", [0.5, 2.0])
def test_confidence_fit_lowers_ece_and_its_loss(true_t: float) -> None:
    z, y = _miscalibrated(true_t, seed=1)
    correct = z.argmax(axis=1) == y
    t = fit_temperature_to_confidence(z, correct)
    assert t == pytest.approx(true_t, rel=0.2)
    assert confidence_loss(z, correct, t) < confidence_loss(z, correct, 1.0)
    before = expected_calibration_error(apply_temperature(z, 1.0).max(axis=1), correct)
    after = expected_calibration_error(apply_temperature(z, t).max(axis=1), correct)
    assert after < before and after < 0.03
    # degenerate inputs keep the scores as they are
    assert fit_temperature_to_confidence(z, np.ones(len(z), dtype=bool)) == 1.0
    assert fit_temperature_to_confidence(np.zeros((0, 3)), np.zeros(0, dtype=bool)) == 1.0


def test_set_nll_matches_single_label_nll() -> None:
    z, y = _miscalibrated(2.0, n=300)
    gold = np.zeros(z.shape, dtype=bool)
    gold[np.arange(y.size), y] = True
    assert set_nll(z, gold, 1.7) == pytest.approx(nll(log_softmax(z / 1.7), y))
    assert fit_temperature(z, gold) == pytest.approx(fit_temperature(z, y), rel=1e-3)


def test_fit_ignores_rows_without_gold() -> None:
    z, y = _miscalibrated(2.0, n=500)
    gold = np.zeros(z.shape, dtype=bool)
    gold[np.arange(y.size), y] = True
    padded = np.vstack([z, np.zeros((10, z.shape[1]))])
    gold_padded = np.vstack([gold, np.zeros((10, z.shape[1]), dtype=bool)])
    assert fit_temperature(padded, gold_padded) == pytest.approx(fit_temperature(z, y), rel=1e-3)
    assert fit_temperature(np.zeros((0, 3)), np.zeros(0, dtype=int)) == 1.0


def test_label_thresholds() -> None:
    conf = [0.95, 0.9, 0.8, 0.7, 0.6, 0.9, 0.8, 0.7, 0.6, 0.5, 0.4]
    pred = ["a"] * 5 + ["b"] * 5 + ["c"]
    ok = [1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 1]
    out = label_thresholds(conf, pred, ok, precision=0.9, min_count=3)
    assert out["a"] == pytest.approx(0.8)
    assert out["b"] == 1.0  # never precise enough: only certain predictions pass
    assert "c" not in out  # too few predictions to say
