"""A subcategory answered within its category: among the chosen category's children only,
renormalised, nested under it (`within`), never decided surer than its category, left out
where the category has no children, and as forced where a rule forces it."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from gateway.config import Floors
from gateway.pipeline.decision import decide_axis
from gateway.pipeline.hierarchy import decide_tree
from gateway.rubrics import Thresholds, parse_rubric
from gateway.schemas import AxisResult
from gateway.scoring import AxisScores


def test_the_bundled_subcategory_is_answered_within_the_category(client: TestClient) -> None:
    body = client.post(
        "/classify",
        json={
            "text": "You took the same subscription payment twice this month",
            "rubric": "support",
        },
    ).json()
    assert body["top_label"] == "billing"
    sub = body["axes"]["subcategory"]
    assert set(sub["scores"]) == {"duplicate_charge", "refund_request", "invoice", "payment_failed"}
    assert sum(sub["scores"].values()) == pytest.approx(1.0, abs=1e-3)
    assert set(sub["raw"]) == set(sub["scores"])
    assert sub["top_label"] == "duplicate_charge"
    assert sub["within"] == {
        "axis": "category",
        "label": "billing",
        "unsure": body["decision"] != "auto_route",
    }


def test_asking_for_the_subcategory_answers_its_category_too(client: TestClient) -> None:
    body = client.post(
        "/classify",
        json={"text": "The parcel never came", "rubric": "support", "axes": ["subcategory"]},
    ).json()
    assert body["axis"] == "category" and set(body["axes"]) == {"subcategory"}
    assert body["axes"]["subcategory"]["within"]["label"] == body["top_label"]


TREE = parse_rubric(
    """\
name: tree
axes:
  category:
    labels:
      - {name: billing, rubric: billing}
      - {name: general, rubric: other things}
  subcategory:
    parent: category
    labels:
      - {name: refund, parent: billing, rubric: refund}
      - {name: invoice, parent: billing, rubric: invoice}
      - {name: loose, parent: billing, rubric: loose}
""",
    "tree.yaml",
)
LOOSE = Thresholds(auto_route=0.6, review=0.3)


def decide(scores: dict[str, dict[str, float]]) -> dict[str, AxisResult]:
    scored = {
        axis: (AxisScores(raw=dict.fromkeys(dist, 0.9), scores=dist), LOOSE)
        for axis, dist in scores.items()
    }

    def one(axis: str, s: AxisScores, t: Thresholds) -> AxisResult:
        return decide_axis(axis, s, t, Floors())

    return decide_tree(TREE, scored, one, forced=set())


def test_children_only_renormalised() -> None:
    out = decide(
        {
            "category": {"billing": 0.9, "general": 0.1},
            "subcategory": {"refund": 0.3, "invoice": 0.1, "loose": 0.0},
        }
    )
    sub = out["subcategory"]
    assert sub.scores == pytest.approx({"refund": 0.75, "invoice": 0.25, "loose": 0.0})
    assert sub.decision == "auto_route" and sub.within is not None and not sub.within.unsure


def test_an_unsure_category_keeps_its_subcategory_from_auto_routing() -> None:
    out = decide(
        {
            "category": {"billing": 0.55, "general": 0.45},  # billing top, under auto_route
            "subcategory": {"refund": 0.9, "invoice": 0.05, "loose": 0.05},
        }
    )
    assert out["category"].decision == "review"
    sub = out["subcategory"]
    assert sub.decision == "review" and sub.within is not None and sub.within.unsure
    assert sub.reason.startswith("category=billing is unsure (review)")


def test_a_category_without_children_leaves_the_subcategory_out() -> None:
    out = decide(
        {
            "category": {"billing": 0.2, "general": 0.8},
            "subcategory": {"refund": 0.9, "invoice": 0.05, "loose": 0.05},
        }
    )
    assert out["category"].top_label == "general" and "subcategory" not in out
