"""Long tickets: read in windows, the best window's similarity kept, at most max_windows read,
and the response says how much was read."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

from gateway.config import PROJECT_ROOT, LocalSettings
from gateway.rubrics import load_rubric_file
from gateway.scoring import LocalScorer
from gateway.scoring.windows import label_token_weights, plan_windows

SUPPORT = load_rubric_file(PROJECT_ROOT / "rubrics" / "support.yaml")
SUITE = PROJECT_ROOT / "evals" / "data" / "banking77_long" / "test.jsonl"
FILLER = (
    "I have been with you for about three years now and until recently I had no complaints. "
    "I am writing this during my lunch break, so please forgive any typos. My sister "
    "recommended your service to me when I moved here for work. "
)
ASK = "I was charged twice for my subscription this month and I want a refund of the duplicate."


def long_ticket(repeats: int, ask_at_end: bool = True) -> str:
    filler = FILLER * repeats
    return f"{filler}\n\n{ASK}" if ask_at_end else f"{ASK}\n\n{filler}"


def test_a_short_text_is_one_window_and_a_long_one_many(local_scorer: LocalScorer) -> None:
    encoder = local_scorer.encoder
    assert encoder.windows("where is my refund?", 128, 32) is None
    windows = encoder.windows(long_ticket(20), 128, 32)
    assert windows is not None and len(windows) > 5
    cls, sep = encoder.token_ids(["[CLS] [SEP]"])[0]
    assert all(w[0] == cls and w[-1] == sep and len(w) <= 128 for w in windows)
    # consecutive windows overlap by the stride (the last 32 content tokens come again)
    assert windows[0][-1 - 32 : -1] == windows[1][1:33]
    rows = encoder.embed_windows(windows)
    assert rows.shape == (len(windows), 384)
    assert np.allclose(np.linalg.norm(rows, axis=1), 1.0, atol=1e-5)


def test_the_plan_keeps_first_last_and_the_windows_nearest_the_labels() -> None:
    weights = label_token_weights([[1, 2], [3], [3, 9]])  # 1, 2 name one label; 3 two of three
    assert weights[1] > weights[3]
    windows = [[100, 7], [100, 8], [100, 3], [100, 1, 2], [100, 6], [100, 5]]
    plan = plan_windows(windows, [weights], max_windows=3)
    assert plan.windows == [[100, 7], [100, 1, 2], [100, 5]]  # text order kept
    assert (plan.reading.windows, plan.reading.read, plan.reading.cut) == (6, 3, True)
    whole = plan_windows(windows, [weights], max_windows=6)
    assert whole.windows == windows and not whole.reading.cut


def test_the_ask_at_the_end_of_a_long_ticket_is_read(local_scorer: LocalScorer) -> None:
    text = long_ticket(20)
    first_only = LocalScorer(local_scorer.encoder, LocalSettings(max_windows=1))
    windowed = LocalScorer(local_scorer.encoder, LocalSettings(max_windows=8))
    (cut,) = first_only.score_sync([text], SUPPORT, ["category"])
    (read,) = windowed.score_sync([text], SUPPORT, ["category"])
    assert cut.reading is None
    assert read.reading is not None and read.reading.read <= 8
    billing_first = cut.axes["category"].scores["billing"]
    billing_windows = read.axes["category"].scores["billing"]
    assert max(read.axes["category"].scores, key=read.axes["category"].scores.get) == "billing"
    assert billing_windows > billing_first + 0.2, (billing_first, billing_windows)


def test_short_tickets_score_as_before_beside_long_ones(local_scorer: LocalScorer) -> None:
    short = ["I was charged twice", "The app crashes on login"]
    windowed = LocalScorer(local_scorer.encoder, LocalSettings(max_windows=8))
    alone = windowed.score_sync(short, SUPPORT, ["category"])
    mixed = windowed.score_sync([short[0], long_ticket(20), short[1]], SUPPORT, ["category"])
    for a, b in zip(alone, [mixed[0], mixed[2]], strict=True):
        assert b.reading is None
        for label, p in a.axes["category"].scores.items():
            assert b.axes["category"].scores[label] == pytest.approx(p, abs=1e-5)


def test_a_ticket_longer_than_the_cap_says_it_was_cut(client: TestClient) -> None:
    resp = client.post("/classify", json={"text": long_ticket(60), "rubric": "support"})
    assert resp.status_code == 200, resp.text
    reading = resp.json()["reading"]
    assert reading["windows"] > reading["read"] == 8 and reading["cut"] is True
    short = client.post("/classify", json={"text": ASK, "rubric": "support"}).json()
    assert short["reading"] is None


def test_a_stride_that_leaves_no_room_is_refused() -> None:
    with pytest.raises(ValidationError, match="window_stride"):
        LocalSettings(window_tokens=64, window_stride=62)


def test_the_long_ticket_suite_is_long_and_labelled() -> None:
    rows = [json.loads(line) for line in SUITE.read_text(encoding="utf-8").splitlines()]
    assert len(rows) == 385 and {r["position"] for r in rows} == {"start", "middle", "end"}
    assert min(len(r["text"]) for r in rows) >= 2_000
    assert Path(SUITE.parent / "README.md").is_file()
