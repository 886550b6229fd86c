"""A fake Help Scout: the Mailbox API v2 conversations endpoints and signed webhooks, from Help
Scout's docs:

- webhooks (X-HelpScout-Event, the conversation object as body, X-HelpScout-Signature =
  base64 HMAC-SHA1 of the body): https://developer.helpscout.com/webhooks/
- conversations: get (``embed=threads``), update tags (the whole list), update custom fields,
  create a note: https://developer.helpscout.com/mailbox-api/endpoints/conversations/
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from fake_server import FakeServer
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from gateway.connectors import helpscout_signature


def signed(body: bytes, secret: str, event: str = "convo.created") -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        "X-HelpScout-Event": event,
        "X-HelpScout-Signature": helpscout_signature(secret, body),
    }


class FakeHelpScout(FakeServer):
    def routes(self) -> list[Route]:
        return [
            Route("/v2/conversations/{id}", self._conversation, methods=["GET"]),
            Route("/v2/conversations/{id}/tags", self._tags, methods=["PUT"]),
            Route("/v2/conversations/{id}/fields", self._fields, methods=["PUT"]),
            Route("/v2/conversations/{id}/notes", self._note, methods=["POST"]),
        ]

    def add_conversation(
        self, cid: str, subject: str, body: str, fields: list[dict[str, Any]] | None = None
    ) -> None:
        self.tickets[cid] = {
            "id": int(cid),
            "number": 3000 + int(cid),
            "type": "email",
            "status": "active",
            "subject": subject,
            "preview": body[:60],
            "tags": [],
            "customFields": fields or [],
            "userUpdatedAt": "2025-01-08T10:12:07Z",
            "_embedded": {"threads": [{"id": 1, "type": "customer", "body": f"<p>{body}</p>"}]},
        }

    def webhook_body(self, cid: str) -> bytes:
        """The conversation object, as Help Scout posts it."""
        c = {k: v for k, v in self.tickets[cid].items() if k != "_embedded"}
        return json.dumps(c).encode()

    def agent_tags(self, cid: str, tag: str) -> None:
        c = self.tickets[cid]
        c["tags"].append({"id": len(c["tags"]) + 1, "color": "#929499", "tag": tag})
        c["userUpdatedAt"] = datetime.now(UTC).isoformat()

    async def _conversation(self, request: Request) -> Response:
        _, fault = await self.record(request)
        if fault is not None:
            return fault
        c = self.tickets.get(request.path_params["id"])
        return JSONResponse(c) if c else JSONResponse({"message": "Not Found"}, 404)

    async def _tags(self, request: Request) -> Response:
        call, fault = await self.record(request)
        if fault is not None:
            return fault
        c: dict[str, Any] = self.tickets[request.path_params["id"]]
        c["tags"] = [{"id": i + 1, "tag": t} for i, t in enumerate(call.body["tags"])]
        return Response(status_code=204)

    async def _fields(self, request: Request) -> Response:
        call, fault = await self.record(request)
        if fault is not None:
            return fault
        c = self.tickets[request.path_params["id"]]
        # the whole state: a field not in the list is removed (as Help Scout documents)
        known = {f["id"]: f for f in c["customFields"]}
        c["customFields"] = [
            _field(known.get(f["id"]), f["id"], f["value"]) for f in call.body["fields"]
        ]
        return Response(status_code=204)

    async def _note(self, request: Request) -> Response:
        _, fault = await self.record(request)
        return fault or Response(status_code=201)


def _field(before: dict[str, Any] | None, fid: int, value: str) -> dict[str, Any]:
    """A custom field as Help Scout returns it; an unchanged one keeps its display text."""
    same = before is not None and before["value"] == value
    return {
        "id": fid,
        "name": before["name"] if before else f"Field {fid}",
        "value": value,
        "text": before["text"] if same and before else value,
    }
