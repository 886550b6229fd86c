"""Freshdesk: a webhook from an automation rule (it signs nothing: a secret header or basic auth
the connection names) whose JSON is set up as ``{"freshdesk_webhook": {"ticket_id":
"{{ticket.id}}", "triggered_event": "{{triggered_event}}", "ticket_updated_at": ...}}``;
the Tickets API to read and write (``PUT /api/v2/tickets/{id}``; notes by
``POST /api/v2/tickets/{id}/notes``). Auth: the API key as the basic-auth user, "X" as password.

Docs: developers.freshdesk.com/api/#tickets, support.freshdesk.com (automation webhooks).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from pydantic import BaseModel

from gateway.connectors.base import ApiBuilder, body_digest, payload
from gateway.connectors.connections import Linked
from gateway.connectors.http import Api
from gateway.connectors.models import Ticket, WebhookEvent, WritePlan
from gateway.connectors.signatures import verify_freshdesk

# Freshdesk's ticket priorities (the API's numbers)
PRIORITIES = {"low": 1, "medium": 2, "high": 3, "urgent": 4}


class _Inner(BaseModel):
    ticket_id: str | int
    triggered_event: str | None = None
    ticket_updated_at: str | None = None


class _Hook(BaseModel):
    freshdesk_webhook: _Inner


class Freshdesk:
    name: ClassVar[str] = "freshdesk"

    def verify(
        self,
        linked: Linked,
        headers: Mapping[str, str],
        body: bytes,
        *,
        now: float,
        max_age_s: float,
    ) -> None:
        conn = linked.config
        verify_freshdesk(
            headers,
            linked.credentials.webhook_secret.get_secret_value(),
            basic=conn.freshdesk_auth == "basic",
            header=conn.secret_header,
        )

    def event(self, headers: Mapping[str, str], body: bytes) -> WebhookEvent | None:
        hook = payload(_Hook, body).freshdesk_webhook
        created = "created" in (hook.triggered_event or "")
        key = hook.ticket_updated_at or body_digest(body)
        return WebhookEvent(
            ticket_id=str(hook.ticket_id), kind="created" if created else "updated", event_key=key
        )

    def api(self, linked: Linked, build: ApiBuilder) -> Api:
        return build(
            linked.config.base_url, auth=(linked.credentials.api_token.get_secret_value(), "X")
        )

    async def fetch(self, api: Api, linked: Linked, ticket_id: str) -> Ticket:
        t: Any = await api.call("GET", f"/api/v2/tickets/{ticket_id}")
        fields = {k: str(v) for k, v in (t.get("custom_fields") or {}).items() if v is not None}
        text = "\n\n".join(p for p in (t.get("subject"), t.get("description_text")) if p)
        return Ticket(
            id=str(t["id"]),
            text=text,
            tags=list(t.get("tags") or []),
            fields=fields,
            version=t.get("updated_at"),
        )

    async def write(self, api: Api, linked: Linked, ticket: Ticket, plan: WritePlan) -> None:
        update: dict[str, Any] = {}
        if plan.tags:  # Freshdesk replaces the tag list: keep the ticket's own
            update["tags"] = list(dict.fromkeys([*ticket.tags, *plan.tags]))
        if plan.category and linked.config.category_field:
            update["custom_fields"] = {linked.config.category_field: plan.category}
        if plan.group:
            update["group_id"] = int(plan.group) if plan.group.isdigit() else plan.group
        if plan.priority:
            update["priority"] = PRIORITIES.get(plan.priority, plan.priority)
        if update:
            await api.call("PUT", f"/api/v2/tickets/{ticket.id}", json=update)
        if plan.note:
            await api.call(
                "POST",
                f"/api/v2/tickets/{ticket.id}/notes",
                json={"body": plan.note, "private": True},
            )
