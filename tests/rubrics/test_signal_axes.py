"""A signal axis (``signal: sentiment``): its labels must be the packaged head's, named at the
axis' line; an axis without one keeps the fingerprint it had."""

from __future__ import annotations

import pytest

from gateway.errors import RubricInvalidError
from gateway.rubrics import parse_rubric

BASE = """\
name: tone
axes:
  category:
    labels:
      - {name: billing, rubric: "Is this about a charge?"}
      - {name: shipping, rubric: "Is this about a parcel?"}
  tone:
%s    labels:
      - {name: negative, rubric: "Is the customer upset?"}
      - {name: neutral, rubric: "Is the customer calm?"}
      - {name: %s, rubric: "Is the customer pleased?"}
"""


def test_a_signal_axis_takes_the_heads_labels_in_any_order() -> None:
    rubric = parse_rubric(BASE % ("    signal: sentiment\n", "positive"), "tone.yaml")
    assert rubric.axes["tone"].signal == "sentiment"


def test_other_labels_are_refused_at_the_axis_line() -> None:
    with pytest.raises(RubricInvalidError) as caught:
        parse_rubric(BASE % ("    signal: sentiment\n", "happy"), "tone.yaml")
    assert caught.value.message == (
        "tone.yaml:7: axes.tone: signal sentiment: its labels must be negative, neutral, "
        "positive (the packaged head's), got negative, neutral, happy"
    )


def test_an_unknown_signal_is_refused() -> None:
    with pytest.raises(RubricInvalidError, match=r"tone.yaml:8: axes.tone.signal: Input should"):
        parse_rubric(BASE % ("    signal: tone\n", "positive"), "tone.yaml")


def test_no_signal_keeps_the_fingerprint() -> None:
    plain = parse_rubric(BASE % ("", "positive"), "tone.yaml")
    signalled = parse_rubric(BASE % ("    signal: sentiment\n", "positive"), "tone.yaml")
    assert "signal" not in plain.model_dump()["axes"]["tone"]
    assert plain.fingerprint != signalled.fingerprint  # the signal changes the answer
