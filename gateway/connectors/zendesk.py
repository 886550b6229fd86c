"""Zendesk: webhooks from event subscriptions (``zen:event-type:ticket.*``, no ticket body: the
ticket is fetched) or from a trigger whose JSON body names the ticket; the Tickets API to read
and to write (``PUT /api/v2/tickets/{id}`` with tags, custom fields and ``safe_update``).

Docs: developer.zendesk.com/documentation/webhooks/verifying/ (signing),
developer.zendesk.com/api-reference/webhooks/event-types/webhook-event-types/ (event bodies),
developer.zendesk.com/api-reference/ticketing/tickets/tickets/ (the Tickets API).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from pydantic import BaseModel

from gateway.connectors.base import ApiBuilder, body_digest, payload
from gateway.connectors.connections import Linked
from gateway.connectors.http import Api
from gateway.connectors.models import Ticket, WebhookEvent, WritePlan
from gateway.connectors.signatures import verify_zendesk
from gateway.errors import InvalidRequestError

_CREATED = "zen:event-type:ticket.created"


class _Detail(BaseModel):
    id: str


class _Hook(BaseModel):
    """An event subscription's body (``type``, ``id``, ``detail``) or a trigger's
    (``ticket_id``, ``ticket_event``, ``updated_at``: the JSON the trigger is set up to send,
    e.g. ``{"ticket_id": "{{ticket.id}}", "ticket_event": "created", "updated_at":
    "{{ticket.updated_at_with_timestamp}}"}``)."""

    type: str | None = None
    id: str | None = None
    detail: _Detail | None = None
    time: str | None = None
    ticket_id: str | int | None = None
    ticket_event: str | None = None
    updated_at: str | None = None


class Zendesk:
    name: ClassVar[str] = "zendesk"

    def verify(
        self,
        linked: Linked,
        headers: Mapping[str, str],
        body: bytes,
        *,
        now: float,
        max_age_s: float,
    ) -> None:
        secret = linked.credentials.webhook_secret.get_secret_value()
        verify_zendesk(headers, body, secret, now=now, max_age_s=max_age_s)

    def event(self, headers: Mapping[str, str], body: bytes) -> WebhookEvent | None:
        hook = payload(_Hook, body)
        if hook.type is not None:
            if not hook.type.startswith("zen:event-type:ticket.") or hook.detail is None:
                return None
            kind = "created" if hook.type == _CREATED else "updated"
            key = hook.id or hook.time or body_digest(body)
            return WebhookEvent(ticket_id=hook.detail.id, kind=kind, event_key=key)
        if hook.ticket_id is None:
            raise InvalidRequestError("the webhook body has neither type/detail nor ticket_id")
        kind = "created" if (hook.ticket_event or "").lower() == "created" else "updated"
        key = hook.updated_at or body_digest(body)
        return WebhookEvent(ticket_id=str(hook.ticket_id), kind=kind, event_key=key)

    def api(self, linked: Linked, build: ApiBuilder) -> Api:
        creds = linked.credentials
        user = f"{creds.api_user}/token" if creds.api_user else "token"
        return build(linked.config.base_url, auth=(user, creds.api_token.get_secret_value()))

    async def fetch(self, api: Api, linked: Linked, ticket_id: str) -> Ticket:
        body: Any = await api.call("GET", f"/api/v2/tickets/{ticket_id}.json")
        t = body["ticket"]
        fields = {
            str(f["id"]): str(f["value"])
            for f in t.get("custom_fields") or []
            if f.get("value") is not None
        }
        text = "\n\n".join(part for part in (t.get("subject"), t.get("description")) if part)
        return Ticket(
            id=str(t["id"]),
            text=text,
            tags=list(t.get("tags") or []),
            fields=fields,
            version=t.get("updated_at"),
        )

    async def write(self, api: Api, linked: Linked, ticket: Ticket, plan: WritePlan) -> None:
        update: dict[str, Any] = {"safe_update": True}
        if ticket.version:
            update["updated_stamp"] = ticket.version  # 409 if an agent edited it meanwhile
        if plan.note:
            update["comment"] = {"body": plan.note, "public": False}
        if plan.tags:
            update["additional_tags"] = plan.tags
        if plan.category and linked.config.category_field:
            update["custom_fields"] = [{"id": linked.config.category_field, "value": plan.category}]
        if plan.group:
            update["group_id"] = plan.group
        if plan.priority:
            update["priority"] = plan.priority
        await api.call("PUT", f"/api/v2/tickets/{ticket.id}.json", json={"ticket": update})
