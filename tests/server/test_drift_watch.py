"""The server's drift watch on a real SQLite store, into the real Prometheus metrics."""

from __future__ import annotations

import random
from datetime import timedelta
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families
from support.settings import make_settings
from support.store import T0, observation

from gateway.config import PROJECT_ROOT
from gateway.rubrics import RubricStore
from gateway.server.drift_watch import DriftWatch
from gateway.server.metrics import Metrics
from gateway.store import open_store

LABELS = ["billing", "technical", "account", "shipping", "returns", "sales", "feedback"]
EVEN = [1 / 7] * 7
# from day 7: billing's share triples, four others' halve
SHIFTED = [3 / 7, 1 / 7, 1 / 14, 1 / 14, 1 / 14, 1 / 14, 1 / 7]


def _samples(metrics: Metrics, name: str) -> dict[tuple[tuple[str, str], ...], float]:
    return {
        tuple(sorted(s.labels.items())): s.value
        for family in text_string_to_metric_families(metrics.text().decode())
        for s in family.samples
        if s.name == name
    }


@pytest.mark.parametrize(("after", "drifted"), [(EVEN, False), (SHIFTED, True)])
def test_the_watch_sets_the_gauges_and_warns_on_a_shift(
    tmp_path: Path, after: list[float], drifted: bool, caplog: pytest.LogCaptureFixture
) -> None:
    rng = random.Random(7)
    store = open_store(f"sqlite:///{tmp_path / 'gateway.db'}")
    for day in range(14):
        weights = EVEN if day < 7 else after
        store.record(
            [
                observation(
                    at=T0 + timedelta(days=day, minutes=3 * i),
                    top_label=rng.choices(LABELS, weights)[0],
                    margin=0.4,
                )
                for i in range(400)
            ]
        )
    settings = make_settings(store={"data_dir": tmp_path, "drift_days": 30}).store
    metrics = Metrics()
    watch = DriftWatch(store, RubricStore(PROJECT_ROOT / "rubrics"), settings, metrics)

    assert watch.check(now=T0 + timedelta(days=14, hours=1)) == 1  # support.category only
    where = (("axis", "category"), ("fingerprint", "fp-1"), ("rubric", "support"))
    psi = _samples(metrics, "gateway_drift_psi")[where]
    warnings = sum(_samples(metrics, "gateway_drift_warnings_total").values())
    confidence = _samples(metrics, "gateway_drift_mean_confidence")[where]
    assert confidence == pytest.approx(0.7)  # every point: 0.5 + margin / 2
    if drifted:
        assert psi > 0.2 and warnings >= 1
        assert "PSI" in caplog.text and "support" in caplog.text
    else:
        assert psi < 0.1 and warnings == 0
    store.close()
