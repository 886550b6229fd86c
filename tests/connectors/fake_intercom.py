"""A fake Intercom: the Conversations and Tags APIs and signed webhook notifications, from
Intercom's docs:

- notifications (``notification_event``, ``topic``, ``data.item``) and X-Hub-Signature
  (``sha1=`` + hex HMAC-SHA1 of the body with the app's client secret):
  https://developers.intercom.com/docs/references/webhooks/webhook-models
- conversations (retrieve, reply as a note, attach a tag, assign):
  https://developers.intercom.com/docs/references/rest-api/api.intercom.io/conversations/
- tags (create or update by name): https://developers.intercom.com/docs/references/rest-api/api.intercom.io/tags/
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

from fake_server import FakeServer
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from gateway.connectors import intercom_signature


def notification(conversation_id: str, topic: str = "conversation.user.created") -> bytes:
    return json.dumps(
        {
            "type": "notification_event",
            "app_id": "abc123",
            "data": {
                "type": "notification_event_data",
                "item": {"type": "conversation", "id": conversation_id, "state": "open"},
            },
            "links": {},
            "id": f"notif_{uuid.uuid4()}",
            "topic": topic,
            "delivery_status": "pending",
            "delivery_attempts": 1,
            "delivered_at": 0,
            "first_sent_at": int(time.time()),
            "created_at": int(time.time()),
            "self": None,
        }
    ).encode()


def signed(body: bytes, secret: str) -> dict[str, str]:
    return {"Content-Type": "application/json", "X-Hub-Signature": intercom_signature(secret, body)}


class FakeIntercom(FakeServer):
    def __init__(self) -> None:
        self.tag_ids: dict[str, str] = {}
        super().__init__()

    def routes(self) -> list[Route]:
        return [
            Route("/conversations/{id}", self._conversation, methods=["GET"]),
            Route("/conversations/{id}", self._update, methods=["PUT"]),
            Route("/conversations/{id}/tags", self._attach, methods=["POST"]),
            Route("/conversations/{id}/reply", self._reply, methods=["POST"]),
            Route("/conversations/{id}/parts", self._reply, methods=["POST"]),
            Route("/tags", self._tag, methods=["POST"]),
        ]

    def add_conversation(self, cid: str, subject: str, body: str) -> None:
        self.tickets[cid] = {
            "type": "conversation",
            "id": cid,
            "source": {"type": "conversation", "subject": subject, "body": f"<p>{body}</p>"},
            "tags": {"type": "tag.list", "tags": []},
            "custom_attributes": {},
            "parts": [],
            "updated_at": int(time.time()),
        }

    def agent_tags(self, cid: str, name: str) -> None:
        tags = self.tickets[cid]["tags"]["tags"]
        tags.append(
            {
                "type": "tag",
                "id": self.tag_ids.setdefault(name, str(len(self.tag_ids) + 1)),
                "name": name,
            }
        )

    async def _conversation(self, request: Request) -> Response:
        _, fault = await self.record(request)
        if fault is not None:
            return fault
        c = self.tickets.get(request.path_params["id"])
        return JSONResponse(c) if c else JSONResponse({"type": "error.list"}, 404)

    async def _update(self, request: Request) -> Response:
        """Update a conversation: ``custom_attributes`` are merged into the conversation's."""
        call, fault = await self.record(request)
        if fault is not None:
            return fault
        c = self.tickets[request.path_params["id"]]
        c["custom_attributes"].update(call.body.get("custom_attributes") or {})
        return JSONResponse(c)

    async def _tag(self, request: Request) -> Response:
        call, fault = await self.record(request)
        if fault is not None:
            return fault
        name = call.body["name"]
        tag_id = self.tag_ids.setdefault(name, str(len(self.tag_ids) + 1))
        return JSONResponse({"type": "tag", "id": tag_id, "name": name})

    async def _attach(self, request: Request) -> Response:
        call, fault = await self.record(request)
        if fault is not None:
            return fault
        names = {v: k for k, v in self.tag_ids.items()}
        tag: dict[str, Any] = {"type": "tag", "id": call.body["id"], "name": names[call.body["id"]]}
        self.tickets[request.path_params["id"]]["tags"]["tags"].append(tag)
        return JSONResponse(tag)

    async def _reply(self, request: Request) -> Response:
        call, fault = await self.record(request)
        if fault is not None:
            return fault
        c = self.tickets[request.path_params["id"]]
        c["parts"].append(call.body)
        return JSONResponse(c)
