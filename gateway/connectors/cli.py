"""``rubric jobs``: the helpdesk job queue from the shell. Failed jobs are listed by default
(nothing is dropped: a job that ran out of retries waits here); ``--retry ID`` queues one again.
Reads the queues the server writes: the store (``GATEWAY_DATABASE_URL``, else SQLite under
``GATEWAY_DATA_DIR``) and, with ``GATEWAY_REDIS_URL``, Redis (the store's then holds what was
accepted while Redis was down: both are listed, ``--queue`` says which one ``--retry`` means).
"""

from __future__ import annotations

import asyncio
import json
from typing import Annotated, NamedTuple, cast

import typer
from rich.console import Console
from rich.table import Table

from gateway.config import get_settings
from gateway.connectors.queue import Backend, JobQueue
from gateway.connectors.runtime import open_queues
from gateway.errors import GatewayError
from gateway.store import JobRecord, JobState, open_store

out = Console()
err = Console(stderr=True)
_STATES = ("failed", "queued", "running", "done", "all")


class _Listed(NamedTuple):
    queue: JobQueue
    jobs: list[JobRecord]
    counts: dict[str, int]
    error: GatewayError | None = None  # why this queue could not be read


async def _listing(
    queues: list[JobQueue], states: list[JobState] | None, limit: int
) -> list[_Listed]:
    """Each queue's jobs and counts, or why it cannot be read: a queue that is down (Redis)
    does not hide the others (the store's holds what was accepted while Redis was down)."""
    listed = []
    for q in queues:
        try:
            listed.append(_Listed(q, await q.jobs(states=states, limit=limit), await q.counts()))
        except GatewayError as exc:
            listed.append(_Listed(q, [], {}, exc))
    return listed


def _table(backend: str, state: str, jobs: list[JobRecord], counts: dict[str, int]) -> Table:
    totals = ", ".join(f"{k}: {v}" for k, v in sorted(counts.items())) or "none"
    table = Table(title=f"{state} jobs in the {backend} queue ({totals})")
    for col in ("id", "kind", "helpdesk/connection", "ticket", "state", "attempts", "updated"):
        table.add_column(col)
    table.add_column("error")
    for job in jobs:
        table.add_row(
            str(job.id),
            job.kind,
            f"{job.helpdesk}/{job.connection}",
            job.ticket_id,
            job.state,
            str(job.attempts),
            job.updated_at.isoformat(timespec="seconds"),
            job.error or "",
        )
    return table


def jobs_command(
    state: Annotated[
        str, typer.Option("--state", help="failed (default), queued, running, done or all")
    ] = "failed",
    limit: Annotated[int, typer.Option("--limit", min=1)] = 50,
    retry: Annotated[int | None, typer.Option("--retry", help="queue a failed job again")] = None,
    queue: Annotated[
        str | None,
        typer.Option("--queue", help="redis or store: the queue --retry means (default: primary)"),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="JSON lines")] = False,
) -> None:
    """List the helpdesk jobs (webhooks to process, notifications to send)."""
    if state not in _STATES:
        raise typer.BadParameter("one of failed, queued, running, done, all", param_hint="--state")
    if queue not in (None, "redis", "store"):
        raise typer.BadParameter("redis or store", param_hint="--queue")
    settings = get_settings()
    store = open_store(settings.store.url)

    async def run() -> None:
        queues = open_queues(store, settings.connectors, settings.redis)
        try:
            if retry is not None:
                target = queues.get(cast(Backend, queue)) if queue else queues.primary
                if target is None:
                    raise typer.BadParameter(f"no {queue} queue here", param_hint="--queue")
                job = await target.retry(retry)
                out.print(f"job {job.id} queued again ({target.backend})", highlight=False)
                return
            states = None if state == "all" else [cast(JobState, state)]
            unread = []
            for q, jobs, counts, exc in await _listing(queues.all, states, limit):
                if exc is not None:
                    unread.append(q.backend)
                    err.print(
                        f"the {q.backend} queue cannot be read: {exc.code}: {exc.message}",
                        highlight=False,
                    )
                    continue
                if as_json:
                    for job in jobs:
                        line = json.dumps({**job.model_dump(mode="json"), "queue": q.backend})
                        out.print(line, highlight=False, soft_wrap=True)
                else:
                    out.print(_table(q.backend, state, jobs, counts))
            if unread:  # listed what could be read; a script must still see that it is partial
                raise typer.Exit(1)
        finally:
            await queues.aclose()

    try:
        asyncio.run(run())
    finally:
        store.close()


def register(app: typer.Typer) -> None:
    app.command("jobs")(jobs_command)
