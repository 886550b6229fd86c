"""The labelled-data store: classified tickets (redacted text and prediction snapshot), the
review queue, human labels and the trained-model registry (SQLAlchemy 2, Alembic).

``open_store(url)`` opens (and migrates) it; ``Store``'s methods are synchronous and
thread-safe. SQLite by default, PostgreSQL with a ``postgresql+psycopg://`` URL.
"""

from gateway.store.records import (
    AxisSnapshot,
    DriftPoint,
    ItemState,
    LabelledExample,
    LabelRecord,
    LabelSource,
    ModelRecord,
    ModelStage,
    Observation,
    Picked,
    QueueItem,
    ShadowPrediction,
    Snapshot,
)
from gateway.store.store import Store, open_store

__all__ = [
    "AxisSnapshot",
    "DriftPoint",
    "ItemState",
    "LabelRecord",
    "LabelSource",
    "LabelledExample",
    "ModelRecord",
    "ModelStage",
    "Observation",
    "Picked",
    "QueueItem",
    "ShadowPrediction",
    "Snapshot",
    "Store",
    "open_store",
]
