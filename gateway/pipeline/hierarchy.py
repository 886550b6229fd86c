"""A child axis answered within its parent: among the children of the label the parent axis
chose, renormalised there, and never decided surer than its parent (under a category sent to
review, the subcategory is reviewed too). A child whose parent's label has no children is left
out of the answer."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from gateway.rubrics import RubricSet, Thresholds
from gateway.schemas import AxisResult, Within
from gateway.scoring import AxisScores

DecideOne = Callable[[str, AxisScores, Thresholds], AxisResult]
# how sure a decision is; a child is never surer than its parent (escalate is a rule's, apart)
_SURENESS = {"auto_route": 2, "review": 1, "manual": 0}


def among(scored: AxisScores, children: list[str]) -> AxisScores:
    """The axis' scores over ``children`` only, summing to 1 again."""
    # a scorer may leave a label out (as it may any label): it has no probability there
    total = sum(scored.scores.get(name, 0.0) for name in children)
    scores = {
        name: (scored.scores.get(name, 0.0) / total if total > 0 else 1.0 / len(children))
        for name in children
    }
    evidence = scored.evidence if scored.evidence and scored.evidence.label in children else None
    return AxisScores(
        raw={name: scored.raw.get(name, 0.0) for name in children},
        scores=scores,
        evidence=evidence,
    )


def decide_tree(
    rubric: RubricSet,
    scored: Mapping[str, tuple[AxisScores, Thresholds]],
    decide_one: DecideOne,
    forced: set[str],
) -> dict[str, AxisResult]:
    """Every axis decided, parents before children, in the order ``scored`` has them. A child
    a rule forces is answered as forced, among all its labels."""
    out: dict[str, AxisResult] = {}
    pending = list(scored)
    while pending:
        axis = next(
            a for a in pending if rubric.axes[a].parent is None or rubric.axes[a].parent in out
        )
        pending.remove(axis)
        axis_scores, thresholds = scored[axis]
        parent_axis = rubric.axes[axis].parent
        if parent_axis is None or axis in forced:
            out[axis] = decide_one(axis, axis_scores, thresholds)
            continue
        parent = out[parent_axis]
        children = rubric.children(axis, parent.top_label)
        if not children:
            continue
        result = decide_one(axis, among(axis_scores, children), thresholds)
        unsure = parent.decision != "auto_route"
        if _SURENESS.get(result.decision, -1) > _SURENESS.get(parent.decision, 2):
            result = result.model_copy(
                update={
                    "decision": parent.decision,
                    "reason": f"{parent_axis}={parent.top_label} is unsure ({parent.decision}); "
                    f"{result.reason}",
                }
            )
        out[axis] = result.model_copy(
            update={"within": Within(axis=parent_axis, label=parent.top_label, unsure=unsure)}
        )
    return {axis: out[axis] for axis in scored if axis in out}
