"""saq's jobs as the connectors see them (``JobRecord``), and saq's Redis client.

States: ``queued``/``new`` → queued, ``active``/``aborting`` → running, ``complete`` → done,
``failed``/``aborted`` (the sweep gave up on a job whose workers kept dying) → failed. The
lease is saq's heartbeat: a running job's lease ends ``heartbeat`` seconds after it was last
touched.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from saq import Job, Status

from gateway.config import RedisSettings
from gateway.store import JobRecord, JobState

OP_TIMEOUT_S = 1.0  # one queue operation (a webhook's enqueue must answer within a second)
_SOCKET_TIMEOUT_S = 2.0  # above OP_TIMEOUT_S and the dequeue wait: wait_for ends first

STATES: dict[Status, JobState] = {
    Status.NEW: "queued",
    Status.QUEUED: "queued",
    Status.ACTIVE: "running",
    Status.ABORTING: "running",
    Status.COMPLETE: "done",
    Status.FAILED: "failed",
    Status.ABORTED: "failed",
}
FAILED = [Status.FAILED, Status.ABORTED]


def _at(ms: float) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC)


def record(job: Job) -> JobRecord:
    """Our view of a saq job."""
    kw: dict[str, Any] = job.kwargs or {}
    state = STATES[job.status]
    running = state == "running"
    changed = max(job.touched, job.completed, job.queued, job.started)
    result = job.result if isinstance(job.result, dict) else None
    return JobRecord(
        id=int(kw["id"]),
        key=job.key,
        kind=str(kw["kind"]),
        helpdesk=str(kw["helpdesk"]),
        connection=str(kw["connection"]),
        ticket_id=str(kw["ticket_id"]),
        payload=kw.get("payload") or {},
        state=state,
        attempts=job.attempts,
        run_at=_at(job.scheduled * 1000) if job.scheduled else _at(job.queued),
        lease_owner=job.worker_id if running else None,
        lease_until=_at(job.touched + job.heartbeat * 1000) if running else None,
        error=job.error,
        result=result,
        created_at=_at(int(kw.get("created_ms", job.queued))),
        updated_at=_at(changed),
    )


def connect(settings: RedisSettings) -> Redis:
    """saq's client: bytes replies (saq decodes them), no retries (a webhook falls back to the
    store at once), socket timeouts above the per-operation bound."""
    assert settings.url is not None
    pool = BlockingConnectionPool.from_url(
        settings.url.get_secret_value(),
        max_connections=settings.max_connections,
        timeout=OP_TIMEOUT_S,  # waiting for a free connection counts in the operation's bound
        socket_timeout=_SOCKET_TIMEOUT_S,
        socket_connect_timeout=min(settings.timeout_s * 4, OP_TIMEOUT_S),
        retry=Retry(NoBackoff(), 0),
    )
    return Redis(connection_pool=pool)
