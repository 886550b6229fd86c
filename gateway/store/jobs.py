"""The durable job queue (``jobs`` table): helpdesk webhooks accepted and not yet processed.

``enqueue`` is idempotent on the job's key, so a webhook the helpdesk delivers twice is one job.
``claim_jobs`` leases due jobs to a worker: queued ones whose ``run_at`` has come, and running
ones whose lease ran out (their worker died between accept and write-back). PostgreSQL locks
the chosen rows (``FOR UPDATE SKIP LOCKED``), so two replicas never claim one job; SQLite's
writers run one at a time (``BEGIN IMMEDIATE``). A job that fails is rescheduled with the delay
its worker asks for, or kept as ``failed`` (listed by ``rubric jobs``, retried by hand): never
deleted. Only the lease holder may finish or fail a job; while it runs, its worker renews the
lease (``renew_job``).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from sqlalchemy import and_, func, or_, select, update

from gateway.errors import ConflictError, ItemNotFoundError
from gateway.store.records import JobData, JobRecord, JobState, NewJob
from gateway.store.session import Transactions
from gateway.store.tables import JobRow


def job_record(row: JobRow) -> JobRecord:
    return JobRecord.model_validate(row, from_attributes=True)


class JobQueue(Transactions):
    """The job queue's half of ``Store``."""

    def enqueue(self, job: NewJob, *, delay_s: float = 0.0) -> tuple[JobRecord, bool]:
        """Queue a job; with a key already queued, the existing job and ``created`` False.
        One transaction in the common case (a new key): the unique key decides."""
        now = self._clock()
        row = JobRow(
            **job.model_dump(),
            state="queued",
            attempts=0,
            run_at=now + timedelta(seconds=delay_s),
            created_at=now,
            updated_at=now,
        )
        try:
            with self._tx() as session:
                session.add(row)
                session.flush()
                return job_record(row), True
        except ConflictError:  # the key is taken: a replayed webhook (or another replica's)
            existing = self.job_by_key(job.key)
            if existing is None:
                raise
            return existing, False

    def enqueue_many(self, jobs: Sequence[NewJob]) -> list[tuple[JobRecord, bool]]:
        """``enqueue`` for many jobs in one transaction (one commit: webhooks arriving together
        are acknowledged together), in order; a key given twice is one job."""
        now = self._clock()
        try:
            with self._tx() as session:
                keys = list(dict.fromkeys(job.key for job in jobs))
                found = {
                    row.key: row
                    for row in session.scalars(select(JobRow).where(JobRow.key.in_(keys)))
                }
                fresh: dict[str, JobRow] = {}
                for job in jobs:
                    if job.key not in found and job.key not in fresh:
                        fresh[job.key] = JobRow(
                            **job.model_dump(),
                            state="queued",
                            attempts=0,
                            run_at=now,
                            created_at=now,
                            updated_at=now,
                        )
                session.add_all(fresh.values())
                session.flush()
                out: list[tuple[JobRecord, bool]] = []
                for job in jobs:
                    row = fresh.pop(job.key, None)
                    if row is not None:
                        out.append((job_record(row), True))
                    else:
                        row = found.get(job.key)
                        if row is None:  # an earlier job of this batch had the key
                            row = session.scalars(select(JobRow).where(JobRow.key == job.key)).one()
                        out.append((job_record(row), False))
                return out
        except ConflictError:  # another replica queued one of the keys in between
            return [self.enqueue(job) for job in jobs]

    def job_by_key(self, key: str) -> JobRecord | None:
        with self._tx(write=False) as session:
            row = session.scalars(select(JobRow).where(JobRow.key == key)).first()
            return job_record(row) if row is not None else None

    def job(self, job_id: int) -> JobRecord:
        with self._tx(write=False) as session:
            row = session.get(JobRow, job_id)
            if row is None:
                raise ItemNotFoundError(f"no job {job_id}")
            return job_record(row)

    def claim_jobs(self, *, worker: str, limit: int, lease_s: float) -> list[JobRecord]:
        """Lease up to ``limit`` due jobs to ``worker`` (oldest due first); each claim counts
        as an attempt."""
        if limit <= 0:
            return []
        now = self._clock()
        due = or_(
            and_(JobRow.state == "queued", JobRow.run_at <= now),
            and_(JobRow.state == "running", JobRow.lease_until <= now),
        )
        query = (
            select(JobRow)
            .where(due)
            .order_by(JobRow.run_at, JobRow.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        with self._tx() as session:
            rows = list(session.scalars(query))
            until = now + timedelta(seconds=lease_s)
            for row in rows:
                row.state, row.lease_owner, row.lease_until = "running", worker, until
                row.attempts += 1
                row.updated_at = now
            session.flush()
            return [job_record(row) for row in rows]

    def renew_job(self, job_id: int, *, worker: str, lease_s: float) -> bool:
        """Extend a running job's lease (its worker's heartbeat), so a job slower than one lease
        is not claimed by a second worker; False when ``worker`` no longer holds it."""
        now = self._clock()
        statement = (
            update(JobRow)
            .where(JobRow.id == job_id, JobRow.state == "running", JobRow.lease_owner == worker)
            .values(lease_until=now + timedelta(seconds=lease_s), updated_at=now)
        )
        with self._tx() as session:
            return bool(session.connection().execute(statement).rowcount)

    def finish_job(
        self,
        job_id: int,
        *,
        worker: str,
        result: JobData | None = None,
    ) -> bool:
        """Mark a job done; False when ``worker`` no longer holds it (its lease ran out and
        another worker took it: that one's outcome counts)."""
        return self._settle(job_id, worker, state="done", result=result)

    def fail_job(self, job_id: int, *, worker: str, error: str, retry_in_s: float | None) -> bool:
        """Record a failure: retried after ``retry_in_s`` seconds, or (None) kept as failed."""
        if retry_in_s is None:
            return self._settle(job_id, worker, state="failed", error=error)
        return self._settle(
            job_id,
            worker,
            state="queued",
            error=error,
            run_at=self._clock() + timedelta(seconds=retry_in_s),
        )

    def retry_job(self, job_id: int) -> JobRecord:
        """Queue a failed job again, now (``rubric jobs --retry``)."""
        now = self._clock()
        with self._tx() as session:
            row = session.get(JobRow, job_id, with_for_update=True)
            if row is None:
                raise ItemNotFoundError(f"no job {job_id}")
            if row.state != "failed":
                raise ConflictError(f"job {job_id} is {row.state}, not failed")
            row.state, row.run_at, row.updated_at = "queued", now, now
            row.attempts = 0
            session.flush()
            return job_record(row)

    def jobs(
        self, *, states: Sequence[JobState] | None = None, limit: int = 100
    ) -> list[JobRecord]:
        """Jobs in these states, newest change first."""
        query = select(JobRow).order_by(JobRow.updated_at.desc(), JobRow.id.desc()).limit(limit)
        if states:
            query = query.where(JobRow.state.in_(list(states)))
        with self._tx(write=False) as session:
            return [job_record(row) for row in session.scalars(query)]

    def job_counts(self) -> dict[str, int]:
        """How many jobs there are in each state."""
        query = select(JobRow.state, func.count()).group_by(JobRow.state)
        with self._tx(write=False) as session:
            return {str(state): int(n) for state, n in session.execute(query).all()}

    def _settle(self, job_id: int, worker: str, *, state: JobState, **values: object) -> bool:
        now = self._clock()
        statement = (
            update(JobRow)
            .where(JobRow.id == job_id, JobRow.state == "running", JobRow.lease_owner == worker)
            .values(state=state, lease_owner=None, lease_until=None, updated_at=now, **values)
        )
        with self._tx() as session:
            return bool(session.connection().execute(statement).rowcount)
