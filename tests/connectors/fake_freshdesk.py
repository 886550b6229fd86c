"""A fake Freshdesk: the Tickets API v2 and an automation rule's webhook, from Freshdesk's docs:

- tickets (view, update, notes): https://developers.freshdesk.com/api/#tickets
  ``GET /api/v2/tickets/{id}``, ``PUT /api/v2/tickets/{id}`` (tags replace the list;
  custom_fields by name; priority 1-4), ``POST /api/v2/tickets/{id}/notes`` (private notes);
  auth: the API key as basic-auth user, any password
- webhooks from automation rules carry the JSON the rule is set up with (placeholders such as
  {{ticket.id}} and {{triggered_event}}) and no signature:
  https://support.freshdesk.com/support/solutions/articles/132589-using-webhooks-in-automation-rules
"""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from typing import Any

from fake_server import FakeServer
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route


def hook_body(
    ticket_id: str, event: str = "{ticket_action:created}", updated_at: str = ""
) -> bytes:
    return json.dumps(
        {
            "freshdesk_webhook": {
                "ticket_id": int(ticket_id),
                "triggered_event": event,
                "ticket_updated_at": updated_at or datetime.now(UTC).isoformat(),
            }
        }
    ).encode()


def secret_header(secret: str) -> dict[str, str]:
    return {"Content-Type": "application/json", "X-Rubric-Secret": secret}


def basic(secret: str) -> dict[str, str]:
    token = base64.b64encode(f"freshdesk:{secret}".encode()).decode()
    return {"Content-Type": "application/json", "Authorization": f"Basic {token}"}


class FakeFreshdesk(FakeServer):
    def routes(self) -> list[Route]:
        return [
            Route("/api/v2/tickets/{id}", self._ticket, methods=["GET", "PUT"]),
            Route("/api/v2/tickets/{id}/notes", self._note, methods=["POST"]),
        ]

    def add_ticket(self, ticket_id: str, subject: str, description: str) -> None:
        self.tickets[ticket_id] = {
            "id": int(ticket_id),
            "subject": subject,
            "description": f"<div>{description}</div>",
            "description_text": description,
            "tags": ["vip"],
            "custom_fields": {"cf_category": None},
            "priority": 1,
            "group_id": None,
            "updated_at": "2025-01-08T10:12:07Z",
            "notes": [],
        }

    async def _ticket(self, request: Request) -> Response:
        call, fault = await self.record(request)
        if fault is not None:
            return fault
        ticket = self.tickets.get(request.path_params["id"])
        if ticket is None:
            return JSONResponse({"code": "not_found"}, 404)
        if request.method == "PUT":
            update: dict[str, Any] = call.body
            for key in ("tags", "priority", "group_id"):
                if key in update:
                    ticket[key] = update[key]
            ticket["custom_fields"].update(update.get("custom_fields", {}))
            ticket["updated_at"] = datetime.now(UTC).isoformat()
        return JSONResponse({k: v for k, v in ticket.items() if k != "notes"})

    async def _note(self, request: Request) -> Response:
        call, fault = await self.record(request)
        if fault is not None:
            return fault
        self.tickets[request.path_params["id"]]["notes"].append(call.body)
        return JSONResponse({"id": 1, **call.body}, 201)
