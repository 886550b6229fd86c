"""``rubric drift``: the table, the summary and the plot from the store's drift points."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from gateway.cli import app
from gateway.config import Settings
from gateway.store.records import DriftPoint

runner = CliRunner()


class FakeStore:
    """The one call drift makes: ``drift_points``."""

    def __init__(self, labels: list[str]) -> None:
        self.labels = labels
        self.asked: dict[str, object] = {}

    def drift_points(
        self,
        *,
        rubric: str,
        axis: str,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> list[DriftPoint]:
        self.asked = {"rubric": rubric, "axis": axis, "since": since}
        rng = np.random.default_rng(0)
        today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        weights = np.ones(len(self.labels))
        points = []
        for day in range(10, 0, -1):
            if day <= 4:  # the last four full days: the first label's share jumps
                weights = np.ones(len(self.labels))
                weights[0] = 3 * len(self.labels)
            for label in rng.choice(self.labels, size=300, p=weights / weights.sum()):
                at = today - timedelta(days=day, seconds=float(rng.uniform(0, 86_399)))
                points.append(
                    DriftPoint(
                        at=at,
                        top_label=str(label),
                        confidence=0.8,
                        none_fits=False,
                        fingerprint="f" * 64,
                    )
                )
        return points


def test_rubric_drift_prints_the_table_and_writes_the_plot(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import gateway.learning.cli as cli

    served = cli._rubric(settings, "support")
    store = FakeStore(list(served.axes[served.primary_axis].names))

    @contextmanager
    def fake_store(_: Settings) -> Iterator[FakeStore]:
        yield store

    monkeypatch.setattr(cli, "get_settings", lambda: settings)
    monkeypatch.setattr(cli, "_store", fake_store)
    plot = tmp_path / "plots" / "drift.png"
    result = runner.invoke(app, ["drift", "support", "--days", "12", "--plot", str(plot)])
    assert result.exit_code == 0, result.output
    assert store.asked["rubric"] == "support" and store.asked["axis"] == served.primary_axis
    assert "drift: support." in result.output and " ref " in result.output
    assert "4 window(s) over PSI 0.2" in " ".join(result.output.split())  # the console wraps
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and plot.stat().st_size > 20_000

    # no --plot: under the data directory
    result = runner.invoke(app, ["drift", "support"])
    assert result.exit_code == 0, result.output
    default = settings.store.data_dir / "drift" / f"support.{served.primary_axis}.png"
    assert default.is_file()
