"""What the store tests build: observations, a hand-moved clock, a test's database."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Literal

import pytest
from sqlalchemy import create_engine, text

from gateway.store import AxisSnapshot, Observation, ShadowPrediction, Snapshot, Store, open_store

PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


@contextmanager
def pg_scratch(kind: Literal["SCHEMA", "DATABASE"]) -> Iterator[str]:
    """A schema or database of the caller's own on the PostgreSQL server, dropped after; the
    test is skipped, saying why, when no server answers."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE {kind} "{name}"'))
    except Exception as exc:
        admin.dispose()
        pytest.skip(f"PostgreSQL not reachable at 127.0.0.1:5432: {type(exc).__name__}: {exc}")
    drop = (
        f'DROP SCHEMA "{name}" CASCADE'
        if kind == "SCHEMA"
        else f'DROP DATABASE "{name}" WITH (FORCE)'
    )
    try:
        yield name
    finally:
        with admin.connect() as conn:
            conn.execute(text(drop))
        admin.dispose()


class Clock:
    """The store's clock, moved by hand."""

    def __init__(self, now: datetime = T0) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


class Database:
    """Where a test's store lives: the URL and schema ``open_store`` takes."""

    def __init__(self, backend: str, url: str, schema: str | None) -> None:
        self.backend = backend
        self.url = url
        self.schema = schema

    def open(self, *, migrate: bool = True, clock: Clock | None = None) -> Store:
        return open_store(self.url, migrate=migrate, schema=self.schema, clock=clock)


def observation(
    *,
    margin: float = 0.3,
    at: datetime = T0,
    rubric: str = "support",
    top_label: str = "billing",
    text: str | None = "a redacted ticket",
    request_id: str | None = None,
    external_id: str | None = None,
    queued: bool = True,
    shadow: list[ShadowPrediction] | None = None,
    urgency: str | None = None,
) -> Observation:
    """One classified ticket on the ``category`` axis (and ``urgency`` when given)."""
    scores = {top_label: 0.5 + margin / 2, "other": 0.5 - margin / 2}
    axes = {
        "category": AxisSnapshot(
            top_label=top_label,
            scores=scores,
            confidence=scores[top_label],
            margin=margin,
            decision="review",
        )
    }
    if urgency is not None:
        axes["urgency"] = AxisSnapshot(
            top_label=urgency,
            scores={urgency: 0.9},
            confidence=0.9,
            margin=0.8,
            decision="auto_route",
        )
    snapshot = Snapshot(
        rubric=rubric,
        fingerprint="fp-1",
        axis="category",
        axes=axes,
        decision="review",
        reason="margin below the review floor",
        model="minilm",
        scorer="local",
        request_id=request_id,
        at=at,
    )
    return Observation(
        snapshot=snapshot,
        text=text,
        external_id=external_id,
        shadow=shadow or [],
        queued=queued,
    )
