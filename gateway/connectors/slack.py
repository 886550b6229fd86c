"""Escalations to a Slack incoming webhook: rubric, labels, reason and a link; no ticket text.

Docs: api.slack.com/messaging/webhooks (a POST of ``{"text": ...}``, answered ``ok``; 429 with
Retry-After when rate limited).
"""

from __future__ import annotations

from pydantic import BaseModel

from gateway.connectors.http import Api


class Escalation(BaseModel):
    """What a notification says, all of it labels and ids."""

    rubric: str
    labels: dict[str, str]
    reason: str
    link: str
    connection: str


def slack_message(e: Escalation) -> dict[str, str]:
    labels = ", ".join(f"{axis}: {label}" for axis, label in e.labels.items())
    return {
        "text": f":rotating_light: Escalated ticket ({e.connection}, rubric {e.rubric}): "
        f"{labels}. Reason: {e.reason}. <{e.link}|Open the ticket>"
    }


async def notify(api: Api, escalation: Escalation) -> None:
    await api.call("POST", api.base_url, json=slack_message(escalation))
