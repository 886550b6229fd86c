"""The review queue: claim order, leases, two reviewers, label and skip."""

from __future__ import annotations

import random
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from support.store import Clock, Database, observation

from gateway.errors import ItemNotFoundError, LeaseHeldError
from gateway.store import ShadowPrediction, Store


def _shadow(margin: float, axis: str = "category") -> ShadowPrediction:
    return ShadowPrediction(
        model_id=f"head/support.{axis}@v1",
        axis=axis,
        top_label="billing",
        confidence=0.6,
        margin=margin,
        scores={"billing": 0.6},
    )


def test_claim_hands_out_smallest_margins_first_and_the_same_again(store: Store) -> None:
    ids = store.record([observation(margin=m) for m in (0.5, 0.1, 0.3, 0.2)])
    by_margin = [ids[1], ids[3], ids[2], ids[0]]
    first = store.claim(reviewer="ana", rubric="support", axis=None, limit=2, lease_s=60)
    assert [i.id for i in first] == by_margin[:2]
    assert all(i.lease_owner == "ana" and i.lease_until is not None for i in first)
    assert first[0].text == "a redacted ticket" and first[0].snapshot.axis == "category"
    again = store.claim(reviewer="ana", rubric="support", axis=None, limit=2, lease_s=60)
    assert [i.id for i in again] == by_margin[:2]
    # more than she holds: hers first, then the next free ones
    more = store.claim(reviewer="ana", rubric=None, axis=None, limit=4, lease_s=60)
    assert [i.id for i in more] == by_margin


def test_priority_is_the_shadow_heads_margin_where_one_ran(store: Store) -> None:
    ids = store.record(
        [
            observation(margin=0.2),
            # a shadow head unsure on the primary axis makes it the most informative
            observation(margin=0.4, shadow=[_shadow(0.05)]),
            # a shadow head sure of it ranks it late, however unsure the live scorer was
            observation(margin=0.01, shadow=[_shadow(0.9)]),
            # a shadow answer on another axis does not count for the queue
            observation(margin=0.3, shadow=[_shadow(0.01, axis="urgency")]),
        ]
    )
    items = store.claim(reviewer="ana", rubric=None, axis=None, limit=4, lease_s=60)
    assert [i.id for i in items] == [ids[1], ids[0], ids[3], ids[2]]
    assert [i.priority for i in items] == [0.05, 0.2, 0.3, 0.9]
    assert items[0].shadow == [_shadow(0.05)]


def test_reprioritise_reranks_the_waiting_items_of_one_rubric_axis(store: Store) -> None:
    ids = store.record([observation(margin=m, text=f"ticket {m}") for m in (0.1, 0.2, 0.3)])
    store.label(ids[0], axis="category", label="billing", who="ana", source="review")
    # the new head is least sure of what the live scorer was surest of
    done = store.reprioritise(
        rubric="support", axis="category", margins=lambda texts: [1 - float(t[7:]) for t in texts]
    )
    assert done == 2  # the labelled item is not waiting
    items = store.claim(reviewer="ana", limit=5, lease_s=60)
    assert [(i.id, round(i.priority, 3)) for i in items] == [(ids[2], 0.7), (ids[1], 0.8)]
    assert (
        store.reprioritise(rubric="other", axis="category", margins=lambda t: [0.0] * len(t)) == 0
    )


def test_only_queued_items_with_text_enter_the_queue(store: Store) -> None:
    ids = store.record(
        [
            observation(),
            observation(text=None),  # queued but no text kept: nothing to review
            observation(queued=False),
        ]
    )
    assert [i.id for i in store.claim(reviewer="ana", limit=10, lease_s=60)] == [ids[0]]
    assert store.queue_size() == 1
    assert store.item(ids[1]).text == ""  # still an item (feedback, labels) without text


def test_an_expired_lease_can_be_claimed_by_another(store: Store, clock: Clock) -> None:
    (item_id,) = store.record([observation()])
    assert [i.id for i in store.claim(reviewer="ana", limit=5, lease_s=60)] == [item_id]
    assert store.claim(reviewer="bo", limit=5, lease_s=60) == []
    clock.advance(61)
    taken = store.claim(reviewer="bo", limit=5, lease_s=60)
    assert [(i.id, i.lease_owner) for i in taken] == [(item_id, "bo")]
    assert store.claim(reviewer="ana", limit=5, lease_s=60) == []


def test_claims_filter_by_rubric_and_axis(store: Store) -> None:
    support, other = store.record([observation(urgency="high"), observation(rubric="billing-desk")])
    assert [i.id for i in store.claim(reviewer="a", rubric="support", limit=5, lease_s=1)] == [
        support
    ]
    store.label(support, axis="category", label="billing", who="a", source="review")
    # labelled on its primary axis, it still waits for a label on urgency
    assert [i.id for i in store.claim(reviewer="b", axis="urgency", limit=5, lease_s=60)] == [
        support
    ]
    # billing-desk's ticket was never answered on urgency
    assert [i.id for i in store.claim(reviewer="c", limit=5, lease_s=60)] == [other]


def test_two_reviewers_never_claim_one_item(database: Database) -> None:
    reviewers, per_claim, items = 8, 5, 40
    with database.open() as store:
        store.record([observation(margin=(i % 7) / 10) for i in range(items)])
        start = threading.Barrier(reviewers)

        def claim(reviewer: str) -> set[int]:
            start.wait()
            got = store.claim(reviewer=reviewer, limit=per_claim, lease_s=600)
            return {i.id for i in got}

        with ThreadPoolExecutor(reviewers) as pool:
            claimed = list(pool.map(claim, [f"reviewer-{n}" for n in range(reviewers)]))

    assert [len(c) for c in claimed] == [per_claim] * reviewers
    union: set[int] = set().union(*claimed)
    assert len(union) == items  # disjoint (no id twice) and every item handed out once


def test_label_while_another_reviewer_holds_the_lease_is_refused(
    store: Store, clock: Clock
) -> None:
    (item_id,) = store.record([observation()])
    store.claim(reviewer="ana", limit=1, lease_s=60)
    with pytest.raises(LeaseHeldError) as caught:
        store.label(
            item_id, axis="category", label="billing", who="bo", source="review", reviewer="bo"
        )
    assert caught.value.status == 409 and "ana" not in caught.value.message
    with pytest.raises(LeaseHeldError):
        store.skip(item_id, reviewer="bo")
    record = store.label(
        item_id, axis="category", label="billing", who="ana", source="review", reviewer="ana"
    )
    assert (record.item_id, record.label, record.source, record.at) == (
        item_id,
        "billing",
        "review",
        clock.now,
    )
    assert store.item(item_id).lease_owner is None
    assert store.claim(reviewer="ana", limit=5, lease_s=60) == []  # labelled: out of the queue
    assert store.queue_size() == 0


def test_after_the_lease_runs_out_anyone_may_label(store: Store, clock: Clock) -> None:
    (item_id,) = store.record([observation()])
    store.claim(reviewer="ana", limit=1, lease_s=60)
    clock.advance(120)
    store.label(item_id, axis="category", label="billing", who="bo", source="review")


def test_skip_puts_the_item_behind_the_others(store: Store) -> None:
    first, second, third = store.record([observation(margin=m) for m in (0.1, 0.2, 0.3)])
    assert store.claim(reviewer="ana", limit=1, lease_s=60)[0].id == first
    store.skip(first, reviewer="ana")
    order = [i.id for i in store.claim(reviewer="bo", limit=3, lease_s=60)]
    assert order == [second, third, first]
    assert store.queue_size() == 3  # skipped is still waiting


def test_unknown_items_are_not_found(store: Store) -> None:
    with pytest.raises(ItemNotFoundError):
        store.item(404)
    with pytest.raises(ItemNotFoundError):
        store.skip(404, reviewer="ana")
    with pytest.raises(ItemNotFoundError):
        store.label(404, axis="category", label="billing", who="ana", source="review")


def test_a_lease_is_its_holders_alone(store: Store) -> None:
    (first,) = store.record([observation(margin=0.1)])
    store.claim(reviewer="key-1/ana", limit=1, lease_s=60)
    for other in ("key-1", "key-1/ana2"):  # the key itself, a name that starts alike
        with pytest.raises(LeaseHeldError):
            store.skip(first, reviewer=other)
    store.skip(first, reviewer="key-1/ana")


def test_audit_picks_are_drawn_at_random_and_say_so(store: Store) -> None:
    ids = store.record([observation(margin=m / 100) for m in range(40)])
    # no exploring: the queue's order, smallest margin first
    ordered = store.claim(reviewer="ana", limit=5, lease_s=60)
    assert [i.id for i in ordered] == ids[:5] and {i.picked for i in ordered} == {"margin"}
    # all exploring: a random draw of the waiting items, never one already leased
    audit = store.claim(reviewer="bo", limit=10, lease_s=60, explore=1.0, rng=random.Random(3))
    assert {i.picked for i in audit} == {"random"}
    assert not {i.id for i in audit} & set(ids[:5])
    assert [i.id for i in audit] != ids[5:15]  # not the queue's order (p of chance: ~0)
    # a mix: about the share asked for
    mixed = store.claim(reviewer="cy", limit=20, lease_s=60, explore=0.5, rng=random.Random(4))
    assert len(mixed) == 20 and 0 < sum(i.picked == "random" for i in mixed) < 20
    # the export says how a reviewed ticket was chosen
    store.label(
        audit[0].id, axis="category", label="billing", who="bo", source="review", reviewer="bo"
    )
    (row,) = store.export(rubric="support", axis="category")
    assert row.picked == "random"
