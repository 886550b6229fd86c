"""The seam every helpdesk implements (``Helpdesk``), and what they share: reading a webhook's
JSON into a vendor's payload model and recognising the labels we (or an agent) set on a ticket.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from typing import ClassVar, Protocol, TypeVar

from pydantic import BaseModel, ValidationError

from gateway.connectors.connections import Linked
from gateway.connectors.http import Api
from gateway.connectors.models import Ticket, WebhookEvent, WritePlan
from gateway.errors import InvalidJsonError, InvalidRequestError

P = TypeVar("P", bound=BaseModel)


class Helpdesk(Protocol):
    """One helpdesk's wire: how it signs, what its webhooks say, how its API reads and writes."""

    name: ClassVar[str]

    def verify(
        self,
        linked: Linked,
        headers: Mapping[str, str],
        body: bytes,
        *,
        now: float,
        max_age_s: float,
    ) -> None:
        """Raise ``SignatureInvalidError`` unless the webhook is the helpdesk's."""
        ...

    def event(self, headers: Mapping[str, str], body: bytes) -> WebhookEvent | None:
        """What happened; None for an event the connectors do not act on."""
        ...

    def api(self, linked: Linked, build: ApiBuilder) -> Api: ...

    async def fetch(self, api: Api, linked: Linked, ticket_id: str) -> Ticket: ...

    async def write(self, api: Api, linked: Linked, ticket: Ticket, plan: WritePlan) -> None: ...


class ApiBuilder(Protocol):
    def __call__(
        self,
        base_url: str,
        *,
        headers: Mapping[str, str] | None = None,
        auth: tuple[str, str] | None = None,
    ) -> Api: ...


def payload(model: type[P], body: bytes) -> P:
    """A webhook body as the vendor's payload model; 400/422 (never a 500) when it is not."""
    try:
        return model.model_validate_json(body)
    except ValidationError as exc:
        if any(e["type"] == "json_invalid" for e in exc.errors()):
            raise InvalidJsonError("the webhook body is not JSON") from None
        fields = sorted({".".join(str(p) for p in e["loc"]) or "(body)" for e in exc.errors()})
        raise InvalidRequestError(
            f"the webhook body lacks or mistypes: {', '.join(fields)}"
        ) from None


def body_digest(body: bytes) -> str:
    """An event key for a webhook that carries neither an event id nor an update time."""
    return hashlib.sha256(body).hexdigest()[:32]


def suggested_tag(prefix: str, label: str) -> str:
    return f"{prefix}suggested_{label}"


def label_tag(prefix: str, label: str) -> str:
    return f"{prefix}{label}"


def observed_label(
    linked: Linked, ticket: Ticket, labels: Sequence[str], written: str | None
) -> str | None:
    """The category a ticket has in its helpdesk now: the category field where the connection
    has one and it holds a label, else a ``<prefix><label>`` tag (one other than the label we
    wrote, when there are several: that is the agent's)."""
    conn = linked.config
    if conn.category_field is not None:
        value = ticket.fields.get(conn.category_field)
        if value in labels:
            return value
    tagged = [label for label in labels if label_tag(conn.tag_prefix, label) in ticket.tags]
    others = [label for label in tagged if label != written]
    found = others or tagged
    return found[0] if found else None
