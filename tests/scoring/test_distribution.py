from __future__ import annotations

import math

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from gateway.scoring.distribution import entropy, logistic, margin, normalise, softmax, top_label

finite = st.floats(min_value=-50, max_value=50, allow_nan=False)
probs = st.floats(min_value=0, max_value=1, allow_nan=False)
names = st.lists(st.text(min_size=1, max_size=8), min_size=2, max_size=12, unique=True)


@given(st.lists(finite, min_size=1, max_size=30))
def test_softmax_sums_to_one_and_is_positive(xs: list[float]) -> None:
    p = softmax(xs)
    assert math.isclose(p.sum(), 1.0, rel_tol=1e-9)
    assert (p >= 0).all()


@given(st.lists(finite, min_size=2, max_size=30), st.randoms())
def test_softmax_is_order_invariant(xs: list[float], rnd: object) -> None:
    perm = np.random.default_rng(len(xs)).permutation(len(xs))
    assert np.allclose(softmax(xs)[perm], softmax(np.asarray(xs)[perm]))


@given(st.lists(finite, min_size=2, max_size=30), st.integers(min_value=0), st.floats(0.01, 10))
def test_softmax_is_monotone_in_each_score(xs: list[float], i: int, bump: float) -> None:
    i %= len(xs)
    raised = list(xs)
    raised[i] += bump
    assert softmax(raised)[i] >= softmax(xs)[i]


@given(
    names.flatmap(
        lambda ns: st.tuples(st.just(ns), st.lists(probs, min_size=len(ns), max_size=len(ns)))
    )
)
def test_normalise_sums_to_one_and_keeps_order(case: tuple[list[str], list[float]]) -> None:
    labels, values = case
    raw = dict(zip(labels, values, strict=True))
    scores = normalise(raw)
    assert math.isclose(sum(scores.values()), 1.0, rel_tol=1e-9)
    for a in labels:
        for b in labels:
            if raw[a] > raw[b]:
                assert scores[a] >= scores[b]


@given(
    names.flatmap(
        lambda ns: st.tuples(st.just(ns), st.lists(probs, min_size=len(ns), max_size=len(ns)))
    ),
    st.floats(0.0, 1.0),
)
def test_normalise_is_monotone_in_the_raw_score(
    case: tuple[list[str], list[float]], new: float
) -> None:
    labels, values = case
    raw = dict(zip(labels, values, strict=True))
    first = labels[0]
    if new < raw[first]:
        return
    raised = {**raw, first: new}
    assert normalise(raised)[first] >= normalise(raw)[first] - 1e-12


def test_normalise_all_zero_is_uniform() -> None:
    assert normalise({"a": 0.0, "b": 0.0}) == {"a": 0.5, "b": 0.5}


def test_logistic_is_stable_and_bounded() -> None:
    values = logistic([-1000.0, 0.0, 1000.0])
    assert values.tolist() == [0.0, 0.5, 1.0]


def test_margin_entropy_top_label() -> None:
    scores = {"a": 0.7, "b": 0.2, "c": 0.1}
    assert top_label(scores) == "a"
    assert math.isclose(margin(scores), 0.5)
    assert entropy({"a": 0.5, "b": 0.5}) == 1.0
    assert entropy({"a": 1.0, "b": 0.0}) == 0.0
    assert top_label({"x": 0.5, "y": 0.5}) == "x"  # ties: rubric order
