"""Fitting a calibration offline: temperatures (NLL and confidence objectives), per-label
auto-route thresholds and the none_fits floor."""

from __future__ import annotations

import numpy as np
import pytest

from gateway.evals import (
    Prediction,
    confidence_loss,
    expected_calibration_error,
    fit_label_traffic,
    fit_none_fits_floor,
    fit_temperature,
    fit_temperature_to_confidence,
    label_thresholds,
    log_softmax,
    nll,
    none_fits_rates,
    none_fits_signals,
    set_nll,
)
from gateway.pipeline import lifted_best
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


def test_none_fits_floor_is_the_in_scope_quantile_from_below() -> None:
    best = np.linspace(0.01, 1.0, 100)  # 0.01, 0.02, ... 1.00, shuffled
    np.random.default_rng(0).shuffle(best)
    floor = fit_none_fits_floor(best, 0.05)
    assert floor is not None and floor == pytest.approx(0.06)
    assert np.mean(best < floor) == pytest.approx(0.05)  # the target, never more
    assert fit_none_fits_floor(best, 0.10) == pytest.approx(0.11)
    # ties at the quantile: a floor on the tie would flag more than the rate; the tie stays in
    tied = [0.2] * 3 + [0.5] * 17
    assert fit_none_fits_floor(tied, 0.10) == 0.2
    assert np.mean(np.asarray(tied) < 0.2) <= 0.10
    # rounded down, so that it never flags a ticket at the quantile
    assert fit_none_fits_floor([0.12345678] * 30, 0.05) == 0.123456
    # too few in-scope tickets to say: the deployment's floor stays
    assert fit_none_fits_floor(best[:19], 0.05) is None
    with pytest.raises(ValueError, match="rate"):
        fit_none_fits_floor(best, 0.0)


def test_none_fits_rates_count_in_and_out_of_scope_apart() -> None:
    def pred(i: int, best: float, in_scope: bool) -> Prediction:
        gold = ["a"] if in_scope else []
        return Prediction(id=str(i), gold=gold, in_scope=in_scope, raw={"a": best, "b": 0.0})

    preds = [pred(0, 0.2, True), pred(1, 0.7, True), pred(2, 0.9, True), pred(3, 0.1, False)]
    preds.append(pred(4, 0.8, False))
    preds.append(Prediction(id="x", gold=["a"], in_scope=True, error="boom"))  # not counted
    rates = none_fits_rates(preds, 0.75)
    assert rates.in_scope == pytest.approx(2 / 3)
    assert rates.out_of_scope == 0.5
    only_in = none_fits_rates(preds[:3], 0.5)
    assert only_in.out_of_scope is None and only_in.in_scope == pytest.approx(1 / 3)


def test_label_traffic_weights_narrow_labels_up_and_lifts_hubs_off() -> None:
    rng = np.random.default_rng(0)
    n = 400
    # 'hub' resembles most tickets (high mean, narrow); 'rare' matches few, spread wide
    hub = 1 / (1 + np.exp(-rng.normal(1.0, 0.5, n)))
    rare = 1 / (1 + np.exp(-rng.normal(-2.0, 2.0, n)))
    traffic = fit_label_traffic(np.column_stack([hub, rare]), ["hub", "rare"], lift=0.5)
    assert traffic["hub"].mean == pytest.approx(1.0, abs=0.1)
    assert traffic["rare"].mean == pytest.approx(-2.0, abs=0.3)
    # lift x median spread / own spread: the narrow label weighs more
    assert traffic["hub"].weight > 0.5 > traffic["rare"].weight
    median = np.median([0.5, 2.0])
    assert traffic["hub"].weight == pytest.approx(0.5 * median / 0.5, rel=0.15)
    # a ticket at the hub's usual score scores under one as far over the rare label's mean
    # even though its raw score is higher
    at_hub = {"hub": float(1 / (1 + np.exp(-1.0))), "rare": 0.0}
    over_rare = {"hub": 0.0, "rare": float(1 / (1 + np.exp(-0.5)))}
    assert at_hub["hub"] > over_rare["rare"]
    assert lifted_best(at_hub, traffic) < lifted_best(over_rare, traffic)
    # without traffic the fit score is the best raw score
    assert lifted_best(at_hub, {}) == pytest.approx(at_hub["hub"])
    # lift 0, or too few tickets: nothing fitted
    assert fit_label_traffic(np.column_stack([hub, rare]), ["hub", "rare"], lift=0.0) == {}
    assert fit_label_traffic(np.column_stack([hub, rare])[:10], ["hub", "rare"], lift=0.5) == {}


def test_floor_on_the_fit_score_flags_the_rate_of_in_scope_tickets() -> None:
    rng = np.random.default_rng(1)
    raw = 1 / (1 + np.exp(-rng.normal(0, 1.5, (300, 4))))
    labels = ["a", "b", "c", "d"]
    traffic = fit_label_traffic(raw, labels, lift=0.5)
    rows = [dict(zip(labels, r.tolist(), strict=True)) for r in raw]
    preds = [
        Prediction(id=str(i), gold=["a"], in_scope=i < 200, raw=row) for i, row in enumerate(rows)
    ]
    signal, scoped = none_fits_signals(preds, traffic)
    floor = fit_none_fits_floor([x for x, s in zip(signal, scoped, strict=True) if s], 0.1)
    assert floor is not None
    rates = none_fits_rates(preds, floor, traffic)
    assert rates.in_scope is not None and 0.09 <= rates.in_scope <= 0.10
    assert signal != [max(r.values()) for r in rows]  # the traffic changed the signal
