"""Feedback: a label for a ticket named by request id or external id, idempotent."""

from __future__ import annotations

import pytest
from support.store import T0, observation

from gateway.errors import ForbiddenError, InvalidRequestError, ItemNotFoundError
from gateway.store import Snapshot, Store


def test_feedback_by_request_id(store: Store) -> None:
    (item_id,) = store.record([observation(request_id="req-1", top_label="technical")])
    record, snapshot, created = store.feedback(
        request_id="req-1",
        external_id=None,
        rubric=None,
        axis=None,
        label="billing",
        who="zendesk",
        source="feedback",
    )
    assert created and (record.item_id, record.axis, record.label) == (
        item_id,
        "category",
        "billing",
    )
    assert snapshot.primary.top_label == "technical" and snapshot.request_id == "req-1"
    assert store.queue_size() == 0  # labelled on its primary axis: out of the queue


def test_feedback_by_external_id_takes_the_newest_ticket_of_the_rubric(store: Store) -> None:
    older, newer, elsewhere = store.record(
        [
            observation(external_id="T-42", at=T0),
            observation(external_id="T-42", at=T0.replace(hour=13)),
            observation(external_id="T-42", at=T0.replace(hour=14), rubric="billing-desk"),
        ]
    )
    record, _, _ = store.feedback(
        request_id=None,
        external_id="T-42",
        rubric="support",
        axis=None,
        label="billing",
        who="helpdesk",
        source="helpdesk",
    )
    assert record.item_id == newer and record.source == "helpdesk"
    record, _, _ = store.feedback(
        request_id=None,
        external_id="T-42",
        rubric=None,
        axis=None,
        label="billing",
        who="helpdesk",
        source="helpdesk",
    )
    assert record.item_id == elsewhere
    assert older not in {newer, elsewhere}


def test_unknown_ids_are_not_found_and_name_what_was_looked_for(store: Store) -> None:
    store.record([observation(request_id="req-1", external_id="T-1")])
    with pytest.raises(ItemNotFoundError, match="no classified ticket with request id 'nope'"):
        store.feedback(
            request_id="nope",
            external_id=None,
            rubric=None,
            axis=None,
            label="billing",
            who="x",
            source="feedback",
        )
    with pytest.raises(ItemNotFoundError, match="external id 'T-1' in rubric set 'other'"):
        store.feedback(
            request_id=None,
            external_id="T-1",
            rubric="other",
            axis=None,
            label="billing",
            who="x",
            source="feedback",
        )
    with pytest.raises(InvalidRequestError):
        store.feedback(
            request_id="req-1",
            external_id="T-1",
            rubric=None,
            axis=None,
            label="billing",
            who="x",
            source="feedback",
        )


def test_the_same_correction_again_is_not_recorded_twice(store: Store) -> None:
    store.record([observation(request_id="req-1")])

    def send(label: str, who: str = "zendesk") -> tuple[int, bool]:
        record, _, created = store.feedback(
            request_id="req-1",
            external_id=None,
            rubric=None,
            axis=None,
            label=label,
            who=who,
            source="feedback",
        )
        return record.id, created

    first, created = send("billing")
    assert created
    assert send("billing") == (first, False)
    changed, created = send("technical")
    assert created and changed != first
    back, created = send("billing")  # back to billing: a new correction, newest again
    assert created and back not in (first, changed)
    assert [e.label for e in store.export()] == ["billing"]


def test_a_review_label_then_the_same_feedback_is_a_new_label(store: Store) -> None:
    (item_id,) = store.record([observation(request_id="req-1")])
    store.label(item_id, axis="category", label="billing", who="ana", source="review")
    _, _, created = store.feedback(
        request_id="req-1",
        external_id=None,
        rubric=None,
        axis=None,
        label="billing",
        who="zendesk",
        source="feedback",
    )
    assert created
    assert [(e.label, e.source) for e in store.export()] == [("billing", "feedback")]


def test_check_chooses_the_axis_and_can_refuse_before_anything_is_written(store: Store) -> None:
    store.record([observation(request_id="req-1", urgency="low")])
    seen: list[Snapshot] = []

    def to_urgency(snapshot: Snapshot) -> str:
        seen.append(snapshot)
        return "urgency"

    record, _, _ = store.feedback(
        request_id="req-1",
        external_id=None,
        rubric=None,
        axis=None,
        label="high",
        who="zendesk",
        source="feedback",
        check=to_urgency,
    )
    assert record.axis == "urgency" and seen[0].request_id == "req-1"
    assert store.queue_size() == 1  # the primary axis still waits for a label

    def refuse(snapshot: Snapshot) -> str:
        raise ForbiddenError("this key may not label rubric set 'support'")

    with pytest.raises(ForbiddenError):
        store.feedback(
            request_id="req-1",
            external_id=None,
            rubric=None,
            axis="category",
            label="billing",
            who="zendesk",
            source="feedback",
            check=refuse,
        )
    assert [(e.axis, e.label) for e in store.export()] == [("urgency", "high")]
