"""The connectors as the server runs them: the hub (connections and their clients) and, once the
store and the model are ready, the job worker."""

from __future__ import annotations

from collections.abc import Callable

import httpx

from gateway.config import Settings
from gateway.connectors.connections import load_connections
from gateway.connectors.hub import ConnectorHub
from gateway.connectors.intake import JobIntake
from gateway.connectors.jobs import JobRunner, TicketClassifier
from gateway.connectors.worker import JobWorker
from gateway.schemas import ClassifyResponse
from gateway.store import Store


class Connectors:
    def __init__(self, hub: ConnectorHub) -> None:
        self.hub = hub
        self.worker: JobWorker | None = None
        self._intake: JobIntake | None = None

    def intake(self, store: Store) -> JobIntake:
        """Where the webhook route queues its jobs (one per process: it batches them)."""
        if self._intake is None or self._intake.store is not store:
            self._intake = JobIntake(store)
        return self._intake

    def start_worker(
        self,
        store: Store,
        classifier: TicketClassifier,
        record: Callable[[ClassifyResponse], None],
    ) -> None:
        """Start claiming jobs (on the running event loop)."""
        runner = JobRunner(self.hub, store, classifier, record)
        self.worker = JobWorker(store, runner, self.hub.settings)
        self.worker.start()

    def wake(self) -> None:
        if self.worker is not None:
            self.worker.wake()

    async def aclose(self) -> None:
        if self._intake is not None:
            await self._intake.aclose()  # acknowledged webhooks are written first
        if self.worker is not None:
            await self.worker.aclose()
        await self.hub.aclose()


def build_connectors(settings: Settings, client: httpx.AsyncClient | None = None) -> Connectors:
    """The connections file read (``ConfigError`` with file:line for a bad one), one HTTP
    client for every helpdesk call. Runs in a worker thread (file I/O)."""
    path = settings.connectors.connections_path(settings.rubrics.dir)
    connections = load_connections(path)
    http = client or httpx.AsyncClient(
        timeout=httpx.Timeout(settings.connectors.http_timeout_s),
        limits=httpx.Limits(max_connections=max(16, settings.connectors.concurrency * 2)),
        headers={"User-Agent": "rubric-gateway"},
    )
    return Connectors(ConnectorHub(connections, http, settings.connectors))
