"""Rubric sets for tests, written as {axis: {label: question}}."""

from __future__ import annotations

from collections.abc import Mapping

from gateway.rubrics import Axis, Label, RubricSet, Thresholds


def rubric_of(
    axes: Mapping[str, Mapping[str, str]],
    *,
    name: str = "support",
    thresholds: Thresholds | None = None,
) -> RubricSet:
    return RubricSet(
        name=name,
        thresholds=thresholds or Thresholds(),
        axes={
            axis: Axis(labels=tuple(Label(name=n, rubric=q) for n, q in labels.items()))
            for axis, labels in axes.items()
        },
    )
