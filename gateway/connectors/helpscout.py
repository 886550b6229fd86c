"""Help Scout: webhooks (``X-HelpScout-Event``, the conversation as the body, signed
``X-HelpScout-Signature: base64(HMAC-SHA1 of the body)``); the Mailbox API v2 to read
(``GET /v2/conversations/{id}?embed=threads``), tag (``PUT .../tags``: the whole list), set
custom fields (``PUT .../fields``: the whole list too; the category and, as Help Scout has no
priority of its own, the priority are custom fields) and note (``POST .../notes``).

Docs: developer.helpscout.com/webhooks/, developer.helpscout.com/mailbox-api/endpoints/
conversations/ (get, tags, custom fields, threads/notes).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, ClassVar

from pydantic import BaseModel

from gateway.connectors.base import ApiBuilder, body_digest, payload
from gateway.connectors.connections import Linked
from gateway.connectors.http import Api
from gateway.connectors.models import Ticket, WebhookEvent, WritePlan
from gateway.connectors.signatures import verify_helpscout

_UPDATED = {"convo.tags", "convo.custom-fields", "convo.assigned", "convo.moved"}
_HTML = re.compile(r"<[^>]+>")


class _Hook(BaseModel):
    id: int | str
    userUpdatedAt: str | None = None  # noqa: N815  # the vendor's field name


class HelpScout:
    name: ClassVar[str] = "helpscout"

    def verify(
        self,
        linked: Linked,
        headers: Mapping[str, str],
        body: bytes,
        *,
        now: float,
        max_age_s: float,
    ) -> None:
        verify_helpscout(headers, body, linked.credentials.webhook_secret.get_secret_value())

    def event(self, headers: Mapping[str, str], body: bytes) -> WebhookEvent | None:
        name = headers.get("x-helpscout-event", "")
        if name == "convo.created":
            kind = "created"
        elif name in _UPDATED:
            kind = "updated"
        else:
            return None
        hook = payload(_Hook, body)
        key = f"{name}:{hook.userUpdatedAt or body_digest(body)}"
        return WebhookEvent(ticket_id=str(hook.id), kind=kind, event_key=key)

    def api(self, linked: Linked, build: ApiBuilder) -> Api:
        token = linked.credentials.api_token.get_secret_value()
        return build(linked.config.base_url, headers={"Authorization": f"Bearer {token}"})

    async def fetch(self, api: Api, linked: Linked, ticket_id: str) -> Ticket:
        c: Any = await api.call("GET", f"/v2/conversations/{ticket_id}?embed=threads")
        threads = (c.get("_embedded") or {}).get("threads") or []
        first = next((t for t in reversed(threads) if t.get("type") == "customer"), None)
        body = _HTML.sub(" ", (first or {}).get("body") or c.get("preview") or "").strip()
        present = [f for f in c.get("customFields") or [] if f.get("value") is not None]
        # ``text`` is what an agent sees (a drop-down's option name), ``value`` what is written
        fields = {str(f["id"]): str(f.get("text") or f["value"]) for f in present}
        values = {str(f["id"]): str(f["value"]) for f in present}
        return Ticket(
            id=str(c["id"]),
            text="\n\n".join(p for p in (c.get("subject"), body) if p),
            tags=[t["tag"] for t in c.get("tags") or []],
            fields=fields,
            field_values=values,
            version=c.get("userUpdatedAt"),
        )

    async def write(self, api: Api, linked: Linked, ticket: Ticket, plan: WritePlan) -> None:
        base = f"/v2/conversations/{ticket.id}"
        if plan.tags:  # the whole list: the conversation's own tags kept
            tags = list(dict.fromkeys([*ticket.tags, *plan.tags]))
            await api.call("PUT", f"{base}/tags", json={"tags": tags})
        conn = linked.config
        ours = {
            field: value
            for field, value in (
                (conn.category_field, plan.category),
                (conn.priority_field, plan.priority),
            )
            if field is not None and value
        }
        if ours:  # the whole list: a field left out is removed, so the others are sent back
            merged = {**ticket.field_values, **ours}
            fields = [{"id": int(k), "value": v} for k, v in merged.items()]
            await api.call("PUT", f"{base}/fields", json={"fields": fields})
        if plan.note:
            await api.call("POST", f"{base}/notes", json={"text": plan.note})
