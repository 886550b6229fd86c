"""What is read back: the export, drift points, volume, queue size; and purge."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import text
from support.store import T0, Clock, observation

from gateway.store import ShadowPrediction, Store


def test_export_gives_the_newest_label_per_item_and_axis_beside_the_prediction(
    store: Store, clock: Clock
) -> None:
    shadow = ShadowPrediction(
        model_id="head/support.category@v1",
        axis="category",
        top_label="billing",
        confidence=0.7,
        margin=0.4,
        scores={"billing": 0.7, "other": 0.3},
    )
    a, b = store.record(
        [
            observation(top_label="technical", external_id="T-1", shadow=[shadow], urgency="low"),
            observation(top_label="billing", request_id="req-2"),
        ]
    )
    store.label(a, axis="category", label="account", who="ana", source="review")
    clock.advance(10)
    store.label(b, axis="category", label="billing", who="ana", source="review")
    clock.advance(10)
    store.label(a, axis="category", label="billing", who="bo", source="review")  # newer
    clock.advance(10)
    store.label(a, axis="urgency", label="high", who="bo", source="review")

    rows = store.export()
    assert [(r.id, r.axis, r.label) for r in rows] == [
        (f"item-{b}", "category", "billing"),
        (f"item-{a}", "category", "billing"),
        (f"item-{a}", "urgency", "high"),
    ]
    first_a = rows[1]
    assert first_a.predicted == "technical" and first_a.confidence == 0.65
    assert first_a.text == "a redacted ticket" and first_a.who == "bo"
    assert first_a.shadow == [shadow] and rows[2].shadow == []  # the shadow answers on that axis
    assert first_a.external_id == "T-1" and rows[0].request_id == "req-2"
    assert first_a.classified_at == T0 and first_a.labelled_at == T0 + timedelta(seconds=20)
    assert first_a.labelled_at.tzinfo is not None
    assert (rows[2].predicted, rows[2].confidence) == ("low", 0.9)

    assert [r.axis for r in store.export(axis="urgency")] == ["urgency"]
    assert store.export(rubric="other") == []
    since = store.export(since=T0 + timedelta(seconds=15))
    assert [(r.id, r.axis) for r in since] == [(f"item-{a}", "category"), (f"item-{a}", "urgency")]


def test_export_of_an_axis_the_snapshot_lacks(store: Store) -> None:
    (item_id,) = store.record([observation()])
    store.label(item_id, axis="urgency", label="high", who="ana", source="review")
    (row,) = store.export()
    assert (row.predicted, row.confidence) == ("", 0.0)


def test_drift_points_in_time_order_with_the_newest_label(store: Store) -> None:
    hour = timedelta(hours=1)
    _, early, _, _ = store.record(
        [
            observation(at=T0 + 2 * hour, top_label="billing"),
            observation(at=T0, top_label="technical"),
            observation(at=T0 + hour, top_label="account", text=None, queued=False),
            observation(at=T0, rubric="other"),
        ]
    )
    store.label(early, axis="category", label="account", who="ana", source="review")
    store.label(early, axis="category", label="billing", who="bo", source="feedback")
    points = store.drift_points(rubric="support", axis="category")
    assert [(p.at, p.top_label, p.label) for p in points] == [
        (T0, "technical", "billing"),
        (T0 + hour, "account", None),
        (T0 + 2 * hour, "billing", None),
    ]
    assert points[0].fingerprint == "fp-1" and points[0].confidence == 0.65
    assert not points[0].none_fits
    window = store.drift_points(
        rubric="support", axis="category", since=T0 + hour, until=T0 + 2 * hour
    )
    assert [p.top_label for p in window] == ["account"]
    assert store.drift_points(rubric="support", axis="urgency") == []


def test_volume_counts_classified_tickets(store: Store) -> None:
    hour = timedelta(hours=1)
    store.record(
        [
            observation(at=T0),
            observation(at=T0 + hour, text=None, queued=False),
            observation(at=T0 + 2 * hour, rubric="other"),
        ]
    )
    assert store.volume() == 3
    assert store.volume(rubric="support") == 2
    assert store.volume(since=T0 + hour) == 2
    assert store.volume(since=T0, until=T0 + hour) == 1


def test_queue_size_counts_waiting_items(store: Store) -> None:
    a, _, _ = store.record([observation(), observation(), observation(rubric="other")])
    store.claim(reviewer="ana", limit=1, lease_s=60)  # leased items still wait
    assert store.queue_size() == 3 and store.queue_size(rubric="support") == 2
    store.label(a, axis="category", label="billing", who="ana", source="review")
    assert store.queue_size(rubric="support") == 1


def test_purge_deletes_old_tickets_with_their_labels(store: Store) -> None:
    old, new = store.record([observation(at=T0 - timedelta(days=100)), observation(at=T0)])
    store.label(old, axis="category", label="billing", who="ana", source="review")
    store.label(new, axis="category", label="billing", who="ana", source="review")
    assert store.purge(older_than=T0 - timedelta(days=90)) == 1
    assert [e.id for e in store.export()] == [f"item-{new}"]
    assert store.volume() == 1
    assert store.drift_points(rubric="support", axis="category")[0].at == T0
    with store.engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM labels")).scalar() == 1
        assert conn.execute(text("SELECT count(*) FROM item_axes")).scalar() == 1
    assert store.purge(older_than=T0 - timedelta(days=90)) == 0
