"""Queue sizing: `rubric thresholds --queue-budget N` against a real SQLite store."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from support.store import observation
from typer.testing import CliRunner

from gateway.cli import app
from gateway.evals.queue_budget import review_for_budget
from gateway.store import open_store


def test_the_review_threshold_takes_the_budgets_share_of_the_unsure_band() -> None:
    # 10 days, 100 tickets a day, confidences 0.00 .. 0.99 each day
    confidences = [i / 100 for i in range(100)] * 10
    q = review_for_budget(confidences, days=10, auto_route=0.85, current_review=0.60, budget=20)
    # 20 a day under 0.85: 0.65 .. 0.84
    assert q.review == 0.65 and q.expected_per_day == 20 and not q.exhausted
    assert q.current_per_day == 25  # 0.60 .. 0.84
    everything = review_for_budget(
        confidences, days=10, auto_route=0.85, current_review=0.60, budget=500
    )
    assert everything.exhausted and everything.review == 0.0


def test_the_command_reads_the_observed_volume_from_the_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GATEWAY_DATA_DIR", str(tmp_path))
    from gateway.config import get_settings

    get_settings.cache_clear()
    store = open_store(f"sqlite:///{tmp_path / 'gateway.db'}")
    now = datetime.now(UTC)
    # 7 days of 50 tickets a day; margins give confidences 0.5 .. 0.99
    store.record(
        [
            observation(at=now - timedelta(days=day, minutes=28 * i + 1), margin=i / 50)
            for day in range(7)
            for i in range(50)
        ]
    )
    store.close()
    result = CliRunner().invoke(
        app, ["thresholds", "--queue-budget", "10", "--rubric", "support", "--days", "7"]
    )
    assert result.exit_code == 0, result.output
    # under auto_route 0.85: 35 a day (0.50 .. 0.84); the 10 most confident: from 0.75
    assert "350 tickets" in result.output
    assert "review: 0.750}" in result.output
    get_settings.cache_clear()
