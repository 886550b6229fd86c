"""Helpdesk connectors: Zendesk, Freshdesk, Intercom and Help Scout webhooks in (verified the
way each signs, queued durably: the store's job table, or Redis via saq), labels written back
(drafts first), agents' re-tags back as corrections, escalations to Slack.

connections  the connections file (YAML beside the rubrics; credentials by env-var name)
signatures   each sender's signature check, constant-time
http         outbound calls: one client, tenacity retries honouring Retry-After
zendesk freshdesk intercom helpscout   one module per helpdesk (the ``Helpdesk`` seam, base)
writeback    what is written back, by mode; when a ticket escalates
slack        escalation messages
jobs         what a job does; worker: claims and runs them; runtime: as the server runs them
queue        the JobQueue seam and the store's queue; redis_queue: saq's; queues: the two together
"""

from gateway.connectors.base import Helpdesk, observed_label
from gateway.connectors.connections import Linked, load_connections, parse_connections
from gateway.connectors.hub import HELPDESKS, ConnectorHub
from gateway.connectors.jobs import JobRunner, TicketClassifier, event_job, external_id
from gateway.connectors.models import (
    Connection,
    Credentials,
    Ticket,
    WebhookEvent,
    WritePlan,
)
from gateway.connectors.queue import JobQueue, StoreJobs
from gateway.connectors.queues import JobQueues
from gateway.connectors.redis_queue import RedisJobs
from gateway.connectors.runtime import Connectors, build_connectors
from gateway.connectors.signatures import (
    helpscout_signature,
    intercom_signature,
    zendesk_signature,
)
from gateway.connectors.worker import JobWorker
from gateway.connectors.writeback import escalation, note_text, plan_writeback

__all__ = [
    "HELPDESKS",
    "Connection",
    "ConnectorHub",
    "Connectors",
    "Credentials",
    "Helpdesk",
    "JobQueue",
    "JobQueues",
    "JobRunner",
    "JobWorker",
    "Linked",
    "RedisJobs",
    "StoreJobs",
    "Ticket",
    "TicketClassifier",
    "WebhookEvent",
    "WritePlan",
    "build_connectors",
    "escalation",
    "event_job",
    "external_id",
    "helpscout_signature",
    "intercom_signature",
    "load_connections",
    "note_text",
    "observed_label",
    "parse_connections",
    "plan_writeback",
    "zendesk_signature",
]
