"""The helpdesk job queue on SQLite and PostgreSQL: idempotent enqueue, claims that never hand
one job to two workers, leases that free a dead worker's job, retries and failed jobs kept."""

from __future__ import annotations

import threading

import pytest
from support.store import Clock, Database

from gateway.errors import ConflictError
from gateway.store import NewJob, Store


def job(key: str = "zendesk:acme:1:created", ticket: str = "1") -> NewJob:
    return NewJob(
        key=key,
        kind="event",
        helpdesk="zendesk",
        connection="acme",
        ticket_id=ticket,
        payload={"event": "created"},
    )


def test_enqueue_is_idempotent_on_the_key(store: Store) -> None:
    first, created = store.enqueue(job())
    again, created_again = store.enqueue(job())
    assert created and not created_again
    assert again.id == first.id and again.state == "queued"
    assert store.job_counts() == {"queued": 1}


def test_claim_leases_and_only_the_holder_settles(store: Store, clock: Clock) -> None:
    store.enqueue(job())
    [claimed] = store.claim_jobs(worker="a", limit=5, lease_s=60)
    assert claimed.state == "running" and claimed.attempts == 1 and claimed.lease_owner == "a"
    assert store.claim_jobs(worker="b", limit=5, lease_s=60) == []  # leased
    assert not store.finish_job(claimed.id, worker="b")
    assert store.finish_job(claimed.id, worker="a", result={"top_label": "billing"})
    done = store.job(claimed.id)
    assert done.state == "done" and done.result == {"top_label": "billing"}


def test_a_dead_workers_job_is_claimed_again_after_its_lease(store: Store, clock: Clock) -> None:
    store.enqueue(job())
    [claimed] = store.claim_jobs(worker="dead", limit=1, lease_s=30)
    clock.advance(31)
    [again] = store.claim_jobs(worker="alive", limit=1, lease_s=30)
    assert again.id == claimed.id and again.attempts == 2 and again.lease_owner == "alive"
    assert not store.finish_job(claimed.id, worker="dead")  # too late: not its job any more
    assert store.finish_job(claimed.id, worker="alive")


def test_failures_are_retried_later_or_kept_as_failed(store: Store, clock: Clock) -> None:
    store.enqueue(job())
    [claimed] = store.claim_jobs(worker="a", limit=1, lease_s=30)
    assert store.fail_job(claimed.id, worker="a", error="helpdesk_unavailable: 503", retry_in_s=10)
    assert store.claim_jobs(worker="a", limit=1, lease_s=30) == []  # not due yet
    clock.advance(11)
    [retry] = store.claim_jobs(worker="a", limit=1, lease_s=30)
    assert retry.error == "helpdesk_unavailable: 503"
    assert store.fail_job(retry.id, worker="a", error="helpdesk_rejected: 404", retry_in_s=None)
    clock.advance(3600)
    assert store.claim_jobs(worker="a", limit=1, lease_s=30) == []
    [failed] = store.jobs(states=["failed"])
    assert failed.error == "helpdesk_rejected: 404" and failed.attempts == 2
    requeued = store.retry_job(failed.id)
    assert requeued.state == "queued" and requeued.attempts == 0
    with pytest.raises(ConflictError):
        store.retry_job(failed.id)


def test_two_workers_never_claim_one_job(database: Database, clock: Clock) -> None:
    stores = [database.open(clock=clock) for _ in range(2)]
    try:
        for i in range(40):
            stores[0].enqueue(job(f"k{i}", str(i)))
        claimed: list[list[int]] = [[], []]

        def worker(n: int) -> None:
            while batch := stores[n].claim_jobs(worker=f"w{n}", limit=3, lease_s=60):
                claimed[n] += [j.id for j in batch]

        threads = [threading.Thread(target=worker, args=(n,)) for n in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        everything = claimed[0] + claimed[1]
        assert sorted(everything) == sorted(set(everything))
        assert len(everything) == 40
    finally:
        for s in stores:
            s.close()


def test_enqueue_many_is_one_batch_with_replays_inside_and_out(store: Store) -> None:
    store.enqueue(job("old", "0"))
    results = store.enqueue_many([job("a", "1"), job("old", "0"), job("b", "2"), job("a", "1")])
    assert [created for _, created in results] == [True, False, True, False]
    assert results[0][0].id == results[3][0].id
    assert store.job_counts() == {"queued": 3}
