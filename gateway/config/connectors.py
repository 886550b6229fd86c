"""The section of ``Settings`` for the helpdesk connectors: where the connections file is, and
how the durable job queue that serves their webhooks retries and leases its jobs."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings

from gateway.config.sections import section


class ConnectorSettings(BaseSettings):
    """Helpdesk webhooks in, labels written back (``gateway.connectors``)."""

    model_config = section()

    # one connection per helpdesk account and rubric set; credentials by env-var name only.
    # Unset: ``connections.yaml`` beside the rubrics directory, when there is one.
    connections_file: Path | None = Field(None, validation_alias="GATEWAY_CONNECTIONS_FILE")
    worker: bool = Field(
        True,
        validation_alias="GATEWAY_JOBS_WORKER",
        description="run the job worker in this process (off: accept webhooks only)",
    )
    concurrency: int = Field(
        8, ge=1, le=256, validation_alias="GATEWAY_JOBS_CONCURRENCY", description="jobs at once"
    )
    max_attempts: int = Field(
        6,
        ge=1,
        validation_alias="GATEWAY_JOBS_MAX_ATTEMPTS",
        description="runs of a job before it is kept as failed (`rubric jobs`)",
    )
    backoff_s: float = Field(
        5.0, gt=0, validation_alias="GATEWAY_JOBS_BACKOFF_S", description="first retry delay"
    )
    backoff_max_s: float = Field(600.0, gt=0, validation_alias="GATEWAY_JOBS_BACKOFF_MAX_S")
    lease_s: float = Field(
        300.0,
        gt=0,
        validation_alias="GATEWAY_JOBS_LEASE_S",
        description="a claimed job; a replica that died holding one frees it after this",
    )
    poll_s: float = Field(
        1.0, gt=0, validation_alias="GATEWAY_JOBS_POLL_S", description="idle worker's poll"
    )
    queue: Literal["auto", "store", "redis"] = Field(
        "auto",
        validation_alias="GATEWAY_JOBS_QUEUE",
        description="where jobs wait: auto is Redis (saq) with GATEWAY_REDIS_URL, else the store",
    )
    redis_done_ttl_s: int = Field(
        30 * 86400,
        ge=0,
        validation_alias="GATEWAY_JOBS_REDIS_DONE_TTL_S",
        description="how long Redis keeps a done job (0: forever); failed ones are kept",
    )
    http_timeout_s: float = Field(10.0, gt=0, validation_alias="GATEWAY_HELPDESK_TIMEOUT_S")
    http_attempts: int = Field(
        4,
        ge=1,
        validation_alias="GATEWAY_HELPDESK_ATTEMPTS",
        description="tries of one helpdesk call (429/5xx, honouring Retry-After) in one run",
    )
    retry_after_max_s: float = Field(
        30.0,
        gt=0,
        validation_alias="GATEWAY_HELPDESK_RETRY_AFTER_MAX_S",
        description="longer Retry-After: the job is rescheduled instead of waited for",
    )
    signature_max_age_s: float = Field(300.0, gt=0, validation_alias="GATEWAY_WEBHOOK_MAX_AGE_S")

    def connections_path(self, rubrics_dir: Path) -> Path:
        return self.connections_file or rubrics_dir.parent / "connections.yaml"
