"""The connectors as the server runs them: the hub (connections and their clients), the job
queues (the store's; Redis' with ``GATEWAY_REDIS_URL``) and, once the store and the model are
ready, the job worker."""

from __future__ import annotations

from collections.abc import Callable

import httpx

from gateway.config import ConnectorSettings, RedisSettings, Settings
from gateway.connectors.connections import load_connections
from gateway.connectors.hub import ConnectorHub
from gateway.connectors.intake import JobIntake
from gateway.connectors.jobs import JobRunner, TicketClassifier
from gateway.connectors.queue import StoreJobs
from gateway.connectors.queues import JobQueues
from gateway.connectors.redis_queue import RedisJobs
from gateway.connectors.worker import JobWorker
from gateway.errors import ConfigError
from gateway.schemas import ClassifyResponse
from gateway.store import Store


def uses_redis(settings: ConnectorSettings, redis: RedisSettings) -> bool:
    """Whether the jobs wait in Redis (``GATEWAY_JOBS_QUEUE``: auto follows the Redis URL)."""
    if settings.queue == "redis" and redis.url is None:
        raise ConfigError("GATEWAY_JOBS_QUEUE=redis needs GATEWAY_REDIS_URL")
    return settings.queue == "redis" or (settings.queue == "auto" and redis.url is not None)


def open_queues(store: Store, settings: ConnectorSettings, redis: RedisSettings) -> JobQueues:
    """The store's queue alone, or Redis' with the store's behind it (webhooks accepted while
    Redis is down wait there; the worker drains both)."""
    local = StoreJobs(store)
    if not uses_redis(settings, redis):
        return JobQueues(local)
    return JobQueues(RedisJobs(redis, settings), local, skip_s=redis.check_interval_s)


class Connectors:
    def __init__(self, hub: ConnectorHub, redis: RedisSettings | None = None) -> None:
        self.hub = hub
        self.redis = redis or RedisSettings()
        self.worker: JobWorker | None = None
        self._queues: tuple[Store, JobQueues] | None = None
        self._intake: JobIntake | None = None

    def queues(self, store: Store) -> JobQueues:
        """This process's job queues over ``store`` (built once)."""
        if self._queues is None or self._queues[0] is not store:
            self._queues = (store, open_queues(store, self.hub.settings, self.redis))
        return self._queues[1]

    def intake(self, store: Store) -> JobIntake:
        """Where the webhook route queues its jobs (one per process: it batches them)."""
        queues = self.queues(store)
        if self._intake is None or self._intake.queues is not queues:
            self._intake = JobIntake(queues)
        return self._intake

    def start_worker(
        self,
        store: Store,
        classifier: TicketClassifier,
        record: Callable[[ClassifyResponse], None],
    ) -> None:
        """Start claiming jobs (on the running event loop)."""
        queues = self.queues(store)
        runner = JobRunner(self.hub, store, queues, classifier, record)
        self.worker = JobWorker(queues, runner, self.hub.settings)
        self.worker.start()

    def wake(self) -> None:
        if self.worker is not None:
            self.worker.wake()

    async def aclose(self) -> None:
        if self._intake is not None:
            await self._intake.aclose()  # acknowledged webhooks are written first
        if self.worker is not None:
            await self.worker.aclose()
        if self._queues is not None:
            await self._queues[1].aclose()
        await self.hub.aclose()


def build_connectors(settings: Settings, client: httpx.AsyncClient | None = None) -> Connectors:
    """The connections file read (``ConfigError`` with file:line for a bad one), one HTTP
    client for every helpdesk call. Runs in a worker thread (file I/O)."""
    uses_redis(settings.connectors, settings.redis)  # a queue it cannot have: a clear error
    path = settings.connectors.connections_path(settings.rubrics.dir)
    connections = load_connections(path)
    http = client or httpx.AsyncClient(
        timeout=httpx.Timeout(settings.connectors.http_timeout_s),
        limits=httpx.Limits(max_connections=max(16, settings.connectors.concurrency * 2)),
        headers={"User-Agent": "rubric-gateway"},
    )
    return Connectors(ConnectorHub(connections, http, settings.connectors), settings.redis)
