"""A fake Zendesk: the Tickets API (``GET``/``PUT /api/v2/tickets/{id}.json``, with
``safe_update``) and signed webhooks, built from Zendesk's documentation:

- signing: https://developer.zendesk.com/documentation/webhooks/verifying/
  base64(HMAC-SHA256(secret, timestamp + body)); headers X-Zendesk-Webhook-Signature and
  X-Zendesk-Webhook-Signature-Timestamp
- event subscription bodies (no ticket text: the connector fetches the ticket):
  https://developer.zendesk.com/api-reference/webhooks/event-types/webhook-event-types/
- tickets: https://developer.zendesk.com/api-reference/ticketing/tickets/tickets/
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

from fake_server import FakeServer
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from gateway.connectors import zendesk_signature

SECRET = "dGhpc19zZWNyZXRfaXNfZm9yX3Rlc3Rpbmdfb25seQ=="


def event_body(ticket_id: str, type_: str = "ticket.created", event_id: str | None = None) -> bytes:
    """A ticket event as Zendesk's event subscriptions send it (the documented shape)."""
    return json.dumps(
        {
            "account_id": 22129848,
            "detail": {
                "actor_id": "8447388090494",
                "assignee_id": None,
                "brand_id": "8447346621310",
                "created_at": "2025-01-08T10:12:07Z",
                "id": ticket_id,
                "priority": "LOW",
                "status": "OPEN",
                "type": "TASK",
                "updated_at": "2025-01-08T10:12:07Z",
            },
            "event": {},
            "id": event_id or str(uuid.uuid4()),
            "subject": f"zen:ticket:{ticket_id}",
            "time": "2025-01-08T10:12:07.672717030Z",
            "type": f"zen:event-type:{type_}",
            "zendesk_event_version": "2022-11-06",
        }
    ).encode()


def signed(body: bytes, secret: str = SECRET, at: datetime | None = None) -> dict[str, str]:
    stamp = (at or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {
        "Content-Type": "application/json",
        "X-Zendesk-Webhook-Signature": zendesk_signature(secret, stamp, body),
        "X-Zendesk-Webhook-Signature-Timestamp": stamp,
    }


class FakeZendesk(FakeServer):
    def routes(self) -> list[Route]:
        return [Route("/api/v2/tickets/{id}.json", self._ticket, methods=["GET", "PUT"])]

    def add_ticket(self, ticket_id: str, subject: str, description: str) -> None:
        self.tickets[ticket_id] = {
            "id": int(ticket_id),
            "subject": subject,
            "description": description,
            "tags": [],
            "custom_fields": [],
            "priority": None,
            "group_id": None,
            "comments": [],
            "updated_at": "2025-01-08T10:12:07Z",
        }

    def agent_sets_field(self, ticket_id: str, field_id: str, value: str) -> None:
        t = self.tickets[ticket_id]
        t["custom_fields"] = [f for f in t["custom_fields"] if str(f["id"]) != field_id]
        t["custom_fields"].append({"id": int(field_id), "value": value})
        t["updated_at"] = datetime.now(UTC).isoformat()

    async def _ticket(self, request: Request) -> Response:
        call, fault = await self.record(request)
        if fault is not None:
            return fault
        ticket = self.tickets.get(request.path_params["id"])
        if ticket is None:
            return JSONResponse({"error": "RecordNotFound"}, 404)
        if request.method == "PUT":
            update: dict[str, Any] = call.body["ticket"]
            stamp = update.get("updated_stamp")
            if update.get("safe_update") and stamp and stamp != ticket["updated_at"]:
                return JSONResponse({"error": "UpdateConflict"}, 409)
            ticket["tags"] += [
                t for t in update.get("additional_tags", []) if t not in ticket["tags"]
            ]
            for field in update.get("custom_fields", []):
                ticket["custom_fields"] = [
                    f for f in ticket["custom_fields"] if str(f["id"]) != str(field["id"])
                ] + [field]
            for key in ("priority", "group_id"):
                if key in update:
                    ticket[key] = update[key]
            if "comment" in update:
                ticket["comments"].append(update["comment"])
            ticket["updated_at"] = datetime.now(UTC).isoformat()
        return JSONResponse({"ticket": {k: v for k, v in ticket.items() if k != "comments"}})
