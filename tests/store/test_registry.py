"""The model registry: versions, stages (one shadow and one promoted per axis), errors."""

from __future__ import annotations

import pytest
from support.store import T0

from gateway.errors import ConflictError, ItemNotFoundError
from gateway.store import ModelRecord, ModelStage, Store


def _record(version: int, *, axis: str = "category", stage: ModelStage = "trained") -> ModelRecord:
    return ModelRecord(
        id=f"head/support.{axis}@v{version}",
        rubric="support",
        axis=axis,
        version=version,
        fingerprint="fp-1",
        encoder_sha256="e" * 64,
        path=f"/models/support/{axis}/v{version}",
        stage=stage,
        trained_at=T0,
        labels_used=120,
        cv_macro_f1=0.81,
        cv_accuracy=0.84,
    )


def test_versions_count_up_per_axis(store: Store) -> None:
    assert store.next_version("support", "category") == 1
    store.register_model(_record(1))
    store.register_model(_record(2))
    assert store.next_version("support", "category") == 3
    assert store.next_version("support", "urgency") == 1
    assert store.model("head/support.category@v2") == _record(2)
    assert [m.version for m in store.models("support")] == [1, 2]
    assert store.models("other") == []


def test_one_shadow_and_one_promoted_per_axis(store: Store) -> None:
    for version in (1, 2, 3):
        store.register_model(_record(version))
    store.register_model(_record(1, axis="urgency"))
    v1, v2, v3 = (f"head/support.category@v{n}" for n in (1, 2, 3))

    assert store.set_stage(v1, "shadow").stage == "shadow"
    store.set_stage("head/support.urgency@v1", "shadow")  # another axis: both stay in shadow
    store.set_stage(v2, "shadow")
    assert store.model(v1).stage == "trained"
    assert [m.id for m in store.staged("support", "shadow")] == [v2, "head/support.urgency@v1"]

    store.set_stage(v2, "promoted")
    store.set_stage(v3, "shadow")
    assert [m.id for m in store.staged("support", "promoted")] == [v2]
    store.set_stage(v3, "promoted")
    assert store.model(v2).stage == "trained"
    assert [m.id for m in store.staged("support", "promoted")] == [v3]
    assert [m.id for m in store.staged("support", "shadow")] == ["head/support.urgency@v1"]
    assert store.set_stage(v3, "promoted").stage == "promoted"  # again: nothing moves
    store.set_stage(v1, "retired")
    store.set_stage(v2, "retired")
    assert [m.stage for m in store.models("support")] == [
        "retired",
        "retired",
        "promoted",
        "shadow",
    ]


def test_registering_into_a_stage_moves_its_holder(store: Store) -> None:
    store.register_model(_record(1, stage="shadow"))
    store.register_model(_record(2, stage="shadow"))
    assert [m.version for m in store.staged("support", "shadow")] == [2]


def test_unknown_model_is_not_found_and_a_duplicate_conflicts(store: Store) -> None:
    with pytest.raises(ItemNotFoundError):
        store.model("head/support.category@v9")
    with pytest.raises(ItemNotFoundError):
        store.set_stage("head/support.category@v9", "shadow")
    store.register_model(_record(1))
    with pytest.raises(ConflictError):
        store.register_model(_record(1))
    same_version = _record(1).model_copy(update={"id": "head/support.category@v1-again"})
    with pytest.raises(ConflictError):
        store.register_model(same_version)
    assert len(store.models()) == 1
