"""The sections of ``Settings`` after day one: the labelled-data store and the learning loop."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, NoDecode

from gateway.config.sections import PROJECT_ROOT, section

DecisionName = Literal["auto_route", "review", "manual", "escalate"]
DECISIONS: tuple[DecisionName, ...] = ("auto_route", "review", "manual", "escalate")


class StoreSettings(BaseSettings):
    """Where classified tickets, labels and trained heads are kept. SQLite under ``data_dir``
    unless ``GATEWAY_DATABASE_URL`` names a server (``postgresql+psycopg://...``)."""

    model_config = section()

    enabled: bool = Field(True, validation_alias="GATEWAY_STORE_ENABLED")
    data_dir: Path = Field(PROJECT_ROOT / ".data", validation_alias="GATEWAY_DATA_DIR")
    database_url: str | None = Field(None, validation_alias="GATEWAY_DATABASE_URL")
    # the decisions whose tickets keep their (redacted) text and enter the review queue; every
    # other ticket keeps its prediction snapshot only (feedback and drift still see it).
    # Comma-separated, or "all".
    text_for: Annotated[tuple[DecisionName, ...], NoDecode] = Field(
        ("review", "manual", "escalate"), validation_alias="GATEWAY_STORE_TEXT_FOR"
    )
    # of those, the decisions whose tickets a reviewer is asked about: the unsure band by
    # default (manual and escalated tickets are handled by a person anyway; their helpdesk
    # re-tags come back as labels). ``rubric thresholds --queue-budget`` sizes that band.
    queue_for: Annotated[tuple[DecisionName, ...], NoDecode] = Field(
        ("review",), validation_alias="GATEWAY_REVIEW_QUEUE_FOR"
    )
    explore: float = Field(
        0.2,
        ge=0,
        le=1,
        validation_alias="GATEWAY_REVIEW_EXPLORE",
        description="share of review claims drawn at random: the audit sample promotion is "
        "judged on (the rest: smallest margin first)",
    )
    external_id_keys: Annotated[tuple[str, ...], NoDecode] = Field(
        ("external_id", "ticket_id"),
        validation_alias="GATEWAY_STORE_EXTERNAL_ID_KEYS",
        description="metadata keys whose value is the caller's ticket id",
    )
    retention_days: int = Field(
        90, ge=1, validation_alias="GATEWAY_RETENTION_DAYS", description="rubric store purge"
    )
    lease_s: float = Field(
        900, gt=0, validation_alias="GATEWAY_REVIEW_LEASE_S", description="a claimed queue item"
    )
    max_pending: int = Field(
        50_000,
        ge=1,
        validation_alias="GATEWAY_STORE_MAX_PENDING",
        description="observations waiting for the writer; beyond, new ones are counted and lost",
    )
    heads_refresh_s: float = Field(
        5.0,
        ge=0,
        validation_alias="GATEWAY_HEADS_REFRESH_S",
        description="how often the server rereads which heads are in shadow or promoted",
    )
    drift_interval_s: float = Field(
        300.0,
        ge=0,
        validation_alias="GATEWAY_DRIFT_INTERVAL_S",
        description="how often the server recomputes the drift gauges (0: never)",
    )
    drift_window_h: float = Field(
        24.0, gt=0, validation_alias="GATEWAY_DRIFT_WINDOW_H", description="one drift window"
    )
    drift_days: int = Field(
        14, ge=1, validation_alias="GATEWAY_DRIFT_DAYS", description="what the drift watch reads"
    )

    @field_validator("text_for", "queue_for", "external_id_keys", mode="before")
    @classmethod
    def _listed(cls, value: object, info: ValidationInfo) -> object:
        if isinstance(value, str):
            text = value.strip()
            if text == "all" and info.field_name != "external_id_keys":
                return DECISIONS
            return tuple(part.strip() for part in text.split(",") if part.strip())
        return value

    @property
    def url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'gateway.db'}"

    @property
    def models_dir(self) -> Path:
        return self.data_dir / "models"
