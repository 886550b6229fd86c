"""``rubric jobs``: the helpdesk job queue from the shell. Failed jobs are listed by default
(nothing is dropped: a job that ran out of retries waits here); ``--retry ID`` queues one again.
Reads the store the server writes (``GATEWAY_DATABASE_URL``, else SQLite under
``GATEWAY_DATA_DIR``)."""

from __future__ import annotations

import json
from typing import Annotated, cast

import typer
from rich.console import Console
from rich.table import Table

from gateway.config import get_settings
from gateway.store import JobState, open_store

out = Console()


def jobs_command(
    state: Annotated[
        str, typer.Option("--state", help="failed (default), queued, running, done or all")
    ] = "failed",
    limit: Annotated[int, typer.Option("--limit", min=1)] = 50,
    retry: Annotated[int | None, typer.Option("--retry", help="queue a failed job again")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="JSON lines")] = False,
) -> None:
    """List the helpdesk jobs (webhooks to process, notifications to send)."""
    if state not in ("failed", "queued", "running", "done", "all"):
        raise typer.BadParameter("one of failed, queued, running, done, all", param_hint="--state")
    store = open_store(get_settings().store.url)
    try:
        if retry is not None:
            job = store.retry_job(retry)
            out.print(f"job {job.id} queued again", highlight=False)
            return
        states = None if state == "all" else [cast(JobState, state)]
        jobs = store.jobs(states=states, limit=limit)
        counts = store.job_counts()
    finally:
        store.close()
    if as_json:
        for job in jobs:
            out.print(json.dumps(job.model_dump(mode="json")), highlight=False, soft_wrap=True)
        return
    totals = ", ".join(f"{k}: {v}" for k, v in sorted(counts.items())) or "none"
    table = Table(title=f"{state} jobs ({totals})")
    for col in (
        "id",
        "kind",
        "helpdesk/connection",
        "ticket",
        "state",
        "attempts",
        "updated",
        "error",
    ):
        table.add_column(col)
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
    out.print(table)


def register(app: typer.Typer) -> None:
    app.command("jobs")(jobs_command)
