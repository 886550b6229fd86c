"""What a job does: classify a new ticket and write the label back, take an agent's re-tag as
a correction, or send an escalation to Slack.

A job holds no ticket text: the ticket is fetched from its helpdesk when the job runs, and its
text goes to the classifier (redaction first, like any ticket) and nowhere else.

Loop suppression: only a ``created`` event classifies (its key is the ticket's, so a ticket is
classified once whatever the helpdesk redelivers); an ``updated`` event only looks for a
correction, and a ticket whose category is the one we wrote (our own update coming back) is
not one.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

import anyio.to_thread

from gateway.connectors.base import observed_label
from gateway.connectors.hub import ConnectorHub
from gateway.connectors.models import WebhookEvent
from gateway.connectors.queues import JobQueues
from gateway.connectors.slack import Escalation, notify
from gateway.connectors.writeback import escalation, plan_writeback
from gateway.errors import InvalidRequestError, ItemNotFoundError, RubricNotFoundError
from gateway.rubrics import RubricSet, RubricStore
from gateway.schemas import ClassifyRequest, ClassifyResponse
from gateway.store import JobData, JobRecord, JobValue, NewJob, Store

Result = JobData


class TicketClassifier(Protocol):
    """The pipeline's classifier, as a job uses it."""

    rubrics: RubricStore

    async def classify(self, req: ClassifyRequest) -> ClassifyResponse: ...


def external_id(helpdesk: str, connection: str, ticket_id: str) -> str:
    """The ticket's id in the store: feedback and corrections find its prediction by it."""
    return f"{helpdesk}:{connection}:{ticket_id}"


def created_key(helpdesk: str, connection: str, ticket_id: str) -> str:
    return f"{external_id(helpdesk, connection, ticket_id)}:created"


def event_job(helpdesk: str, connection: str, event: WebhookEvent) -> NewJob:
    """The job for a webhook; its key is what makes a replayed webhook one job."""
    key = (
        created_key(helpdesk, connection, event.ticket_id)
        if event.kind == "created"
        else f"{external_id(helpdesk, connection, event.ticket_id)}:updated:{event.event_key}"
    )
    return NewJob(
        key=key[:500],
        kind="event",
        helpdesk=helpdesk,
        connection=connection,
        ticket_id=event.ticket_id,
        payload={"event": event.kind},
    )


def _strings(value: JobValue) -> list[str]:
    return [str(x) for x in value] if isinstance(value, list) else []


class Retry(Exception):  # noqa: N818  # a signal to the worker, not an error
    """The job cannot run yet (the prediction it needs is not stored yet): run it later."""


class JobRunner:
    """Runs one job; raises a ``GatewayError`` (or ``Retry``) when it did not succeed."""

    def __init__(
        self,
        hub: ConnectorHub,
        store: Store,
        queues: JobQueues,
        classifier: TicketClassifier,
        record: Callable[[ClassifyResponse], None],
    ) -> None:
        self.hub = hub
        self.store = store
        self.queues = queues
        self.classifier = classifier
        self.record = record

    async def run(self, job: JobRecord) -> Result:
        if job.kind == "notify":
            return await self._notify(job)
        if job.payload.get("event") == "created":
            return await self._classify(job)
        return await self._correction(job)

    def _rubric(self, name: str) -> RubricSet | None:
        try:
            return self.classifier.rubrics.get(name)
        except RubricNotFoundError:
            return None

    async def _classify(self, job: JobRecord) -> Result:
        helpdesk, linked = self.hub.get(job.helpdesk, job.connection)
        conn = linked.config
        api = self.hub.api(helpdesk, linked)
        ticket = await helpdesk.fetch(api, linked, job.ticket_id)
        ext = external_id(job.helpdesk, job.connection, job.ticket_id)
        resp = await self.classifier.classify(
            ClassifyRequest(text=ticket.text, rubric=conn.rubric, metadata={"external_id": ext})
        )
        self.record(resp)
        rubric = await anyio.to_thread.run_sync(self._rubric, conn.rubric)
        plan = plan_writeback(conn, resp, rubric)
        if not plan.empty:
            await helpdesk.write(api, linked, ticket, plan)
        reason = escalation(conn, resp)
        if reason is not None and linked.credentials.slack_url is not None:
            labels = [f"{resp.axis}:{resp.top_label}"] + [
                f"{name}:{axis.top_label}" for name, axis in resp.axes.items()
            ]
            note = NewJob(
                key=f"{ext}:notify",
                kind="notify",
                helpdesk=job.helpdesk,
                connection=job.connection,
                ticket_id=job.ticket_id,
                payload={
                    "rubric": conn.rubric,
                    "labels": labels,
                    "reason": reason,
                    "link": conn.link(job.ticket_id),
                },
            )
            await self.queues.enqueue(note)
        axis_labels = (
            list(rubric.axes[resp.axis].names) if rubric and resp.axis in rubric.axes else []
        )
        return {
            "axis": resp.axis,
            "top_label": resp.top_label,
            "confidence": resp.confidence,
            "decision": resp.decision,
            "mode": conn.mode,
            "written": plan.category or (resp.top_label if plan.tags and not plan.note else None),
            "tags": plan.tags,
            "note": plan.note is not None,
            "labels": axis_labels,
            "escalated": reason,
        }

    async def _correction(self, job: JobRecord) -> Result:
        helpdesk, linked = self.hub.get(job.helpdesk, job.connection)
        key = created_key(job.helpdesk, job.connection, job.ticket_id)
        created = await self.queues.job_by_key(key)
        if created is None:
            return {"skipped": "the ticket was never classified here"}
        if created.state != "done" or created.result is None:
            raise Retry("the ticket's classification has not finished")
        ticket = await helpdesk.fetch(self.hub.api(helpdesk, linked), linked, job.ticket_id)
        labels = _strings(created.result.get("labels"))
        written = created.result.get("written")
        observed = observed_label(linked, ticket, labels, str(written) if written else None)
        if observed is None:
            return {"skipped": "no category set"}
        if observed == written:
            return {"skipped": "our own update"}  # loop suppression
        ext = external_id(job.helpdesk, job.connection, job.ticket_id)

        def store_label() -> bool:
            _, _, fresh = self.store.feedback(
                external_id=ext,
                rubric=linked.config.rubric,
                axis=str(created.result.get("axis")) if created.result else None,
                label=observed,
                who=f"helpdesk:{linked.config.name}",
                source="helpdesk",
            )
            return fresh

        try:
            fresh = await anyio.to_thread.run_sync(store_label)
        except ItemNotFoundError:
            raise Retry("the prediction is not in the store yet") from None
        return {"correction": observed, "created": fresh}

    async def _notify(self, job: JobRecord) -> Result:
        _, linked = self.hub.get(job.helpdesk, job.connection)
        api = self.hub.slack(linked)
        if api is None:
            raise InvalidRequestError(f"connection {job.connection!r} has no Slack webhook now")
        p = job.payload
        labels = dict(x.split(":", 1) for x in _strings(p.get("labels")) if ":" in x)
        await notify(
            api,
            Escalation(
                rubric=str(p.get("rubric")),
                labels=labels,
                reason=str(p.get("reason")),
                link=str(p.get("link")),
                connection=job.connection,
            ),
        )
        return {"notified": True}
