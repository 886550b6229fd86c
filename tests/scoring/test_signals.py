"""Signals: the packaged sentiment head answers an axis marked ``signal: sentiment`` on the
embedded path (the real encoder, the shipped weights); a head for another encoder is not
served; the rubric's own thresholds win over the head's."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from gateway.config import LocalSettings
from gateway.rubrics import parse_rubric
from gateway.scoring import LocalScorer
from gateway.scoring.signals import PACKAGED, load_signal_heads

RUBRIC = parse_rubric(
    """\
name: tone
axes:
  category:
    labels:
      - {name: billing, rubric: "Is this about a charge, invoice or refund?"}
      - {name: shipping, rubric: "Is this about a delivery or a parcel?"}
  sentiment:
    signal: sentiment
    labels:
      - {name: positive, rubric: "Is the customer pleased?"}
      - {name: negative, rubric: "Is the customer upset?"}
      - {name: neutral, rubric: "Is the customer neither?"}
""",
    "tone.yaml",
)

TICKETS = {
    "negative": "This is the worst service I have ever had. Three weeks and still no refund, "
    "I am furious and nobody answers.",
    "positive": "Thank you so much, the parcel arrived early and it is perfect. Great job!",
    "neutral": "What is the delivery time to Canada for a standard parcel?",
}


def test_the_packaged_head_answers_the_sentiment_axis(local_scorer: LocalScorer) -> None:
    assert "sentiment" in local_scorer.signals
    results = local_scorer.score_sync(list(TICKETS.values()), RUBRIC, ["category", "sentiment"])
    for expected, result in zip(TICKETS, results, strict=True):
        axis = result.axes["sentiment"]
        assert list(axis.scores) == ["positive", "negative", "neutral"]  # the rubric's order
        assert sum(axis.scores.values()) == pytest.approx(1.0)
        assert max(axis.scores, key=axis.scores.__getitem__) == expected
        assert axis.evidence is not None and axis.evidence.source == "head"
        assert axis.evidence.head == "head/signals.sentiment@v1"
        # the category axis is still the rubric's cosines
        category = result.axes["category"].evidence
        assert category is not None and category.source == "embedding"
    # without thresholds of its own, the axis takes the head's fitted ones
    head = local_scorer.signals["sentiment"]
    assert results[0].thresholds == {"sentiment": head.meta.thresholds}


def test_a_rubric_that_sets_thresholds_keeps_them(local_scorer: LocalScorer) -> None:
    source = RUBRIC.model_dump(mode="json")
    source["axes"]["sentiment"]["thresholds"] = {"auto_route": 0.9, "review": 0.5}
    rubric = type(RUBRIC).model_validate(source)
    [result] = local_scorer.score_sync([TICKETS["neutral"]], rubric, ["sentiment"])
    assert result.thresholds == {}


def test_the_classify_answer_carries_the_signal(client: TestClient) -> None:
    body = client.post("/classify", json={"text": TICKETS["negative"], "rubric": "support"}).json()
    sentiment = body["axes"]["sentiment"]
    assert sentiment["top_label"] == "negative"
    assert sentiment["evidence"]["source"] == "head"


def test_a_head_fitted_on_another_encoder_is_not_served(
    tmp_path: Path, local_scorer: LocalScorer, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / "sentiment").mkdir()
    for name in ("meta.json", "weights.npz"):
        (tmp_path / "sentiment" / name).write_bytes((PACKAGED / "sentiment" / name).read_bytes())
    with caplog.at_level(logging.WARNING, logger="gateway.scoring.signals"):
        assert load_signal_heads("0" * 64, root=tmp_path) == {}
    assert "another encoder" in caplog.text
    assert set(load_signal_heads(local_scorer.encoder.sha256, root=tmp_path)) == {"sentiment"}
    # served by no head, the axis answers its questions like any other
    plain = LocalScorer(local_scorer.encoder, LocalSettings())
    [result] = plain.score_sync([TICKETS["negative"]], RUBRIC, ["sentiment"])
    evidence = result.axes["sentiment"].evidence
    assert evidence is not None and evidence.source == "embedding"
    assert result.thresholds == {}


def test_a_long_tickets_tone_is_the_mean_over_its_windows(local_scorer: LocalScorer) -> None:
    filler = " ".join(["The order number and the address are in the form below."] * 60)
    short, long_ticket, only_filler = local_scorer.score_sync(
        [TICKETS["negative"], f"{TICKETS['negative']} {filler}", filler], RUBRIC, ["sentiment"]
    )
    assert long_ticket.reading is not None and long_ticket.reading.read > 1
    negative = [r.axes["sentiment"].scores["negative"] for r in (short, long_ticket, only_filler)]
    # averaged over its windows, the angry opening is diluted by the neutral form, not kept
    # whole (as the best window would) nor lost (as the last window would)
    assert negative[2] < negative[1] < negative[0]
