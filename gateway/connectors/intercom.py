"""Intercom: webhook notifications (``notification_event`` with ``topic`` and ``data.item``,
signed ``X-Hub-Signature: sha1=<hex HMAC-SHA1 of the body>``); the Conversations API to read,
tag (``POST /conversations/{id}/tags``, tags made by ``POST /tags``), note
(``POST /conversations/{id}/reply`` as an admin note), assign (a team, for ``auto``) and set
the category and priority as conversation attributes (``PUT /conversations/{id}`` with
``custom_attributes``; Intercom's own priority is a yes/no flag, too coarse for a label).

Docs: developers.intercom.com/docs/references/webhooks/webhook-models (notifications and
topics), developers.intercom.com/docs/references/rest-api/api.intercom.io/conversations/ and
.../tags/ (the API).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, ClassVar

from pydantic import BaseModel

from gateway.connectors.base import ApiBuilder, payload
from gateway.connectors.connections import Linked
from gateway.connectors.http import Api
from gateway.connectors.models import Ticket, WebhookEvent, WritePlan
from gateway.connectors.signatures import verify_intercom

_CREATED = {"conversation.user.created"}
# an admin tagging or a change an agent made: where a re-tag shows
_UPDATED = {
    "conversation_part.tag.created",
    "conversation.admin.assigned",
    "conversation.admin.noted",
}
_HTML = re.compile(r"<[^>]+>")


class _Item(BaseModel):
    id: str | int


class _Data(BaseModel):
    item: _Item


class _Hook(BaseModel):
    type: str
    topic: str
    id: str
    created_at: int | None = None
    data: _Data


class Intercom:
    name: ClassVar[str] = "intercom"

    def verify(
        self,
        linked: Linked,
        headers: Mapping[str, str],
        body: bytes,
        *,
        now: float,
        max_age_s: float,
    ) -> None:
        verify_intercom(headers, body, linked.credentials.webhook_secret.get_secret_value())

    def event(self, headers: Mapping[str, str], body: bytes) -> WebhookEvent | None:
        hook = payload(_Hook, body)
        if hook.topic in _CREATED:
            kind = "created"
        elif hook.topic in _UPDATED:
            kind = "updated"
        else:
            return None  # ping and topics we do not act on
        return WebhookEvent(ticket_id=str(hook.data.item.id), kind=kind, event_key=hook.id)

    def api(self, linked: Linked, build: ApiBuilder) -> Api:
        token = linked.credentials.api_token.get_secret_value()
        return build(
            linked.config.base_url,
            headers={"Authorization": f"Bearer {token}", "Intercom-Version": "2.11"},
        )

    async def fetch(self, api: Api, linked: Linked, ticket_id: str) -> Ticket:
        c: Any = await api.call("GET", f"/conversations/{ticket_id}")
        source = c.get("source") or {}
        parts = [source.get("subject"), _HTML.sub(" ", source.get("body") or "").strip()]
        tags = [t["name"] for t in (c.get("tags") or {}).get("tags", [])]
        attributes = {
            str(k): str(v) for k, v in (c.get("custom_attributes") or {}).items() if v is not None
        }
        return Ticket(
            id=str(c["id"]),
            text="\n\n".join(p for p in parts if p),
            tags=tags,
            fields=attributes,
        )

    async def write(self, api: Api, linked: Linked, ticket: Ticket, plan: WritePlan) -> None:
        admin = linked.config.admin_id
        for name in plan.tags:
            tag: Any = await api.call("POST", "/tags", json={"name": name})
            await api.call(
                "POST",
                f"/conversations/{ticket.id}/tags",
                json={"id": str(tag["id"]), "admin_id": admin},
            )
        if plan.note:
            await api.call(
                "POST",
                f"/conversations/{ticket.id}/reply",
                json={
                    "message_type": "note",
                    "type": "admin",
                    "admin_id": admin,
                    "body": plan.note,
                },
            )
        conn = linked.config
        attributes = {}
        if plan.category and conn.category_field:
            attributes[conn.category_field] = plan.category
        if plan.priority:
            attributes[conn.priority_field or "priority"] = plan.priority
        if attributes:
            await api.call(
                "PUT", f"/conversations/{ticket.id}", json={"custom_attributes": attributes}
            )
        if plan.group:
            await api.call(
                "POST",
                f"/conversations/{ticket.id}/parts",
                json={
                    "message_type": "assignment",
                    "type": "team",
                    "admin_id": admin,
                    "assignee_id": plan.group,
                },
            )
