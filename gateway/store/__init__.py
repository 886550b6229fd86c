"""The labelled-data store: classified tickets (redacted text and prediction snapshot), the
review queue, human labels, the trained-model registry and the helpdesk job queue
(SQLAlchemy 2, Alembic).

``open_store(url)`` opens (and migrates) it; ``Store``'s methods are synchronous and
thread-safe. SQLite by default, PostgreSQL with a ``postgresql+psycopg://`` URL.
"""

from gateway.store.records import (
    AxisSnapshot,
    DriftPoint,
    ItemState,
    JobData,
    JobRecord,
    JobState,
    JobValue,
    LabelledExample,
    LabelRecord,
    LabelSource,
    ModelRecord,
    ModelStage,
    NewJob,
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
    "JobData",
    "JobRecord",
    "JobState",
    "JobValue",
    "LabelRecord",
    "LabelSource",
    "LabelledExample",
    "ModelRecord",
    "ModelStage",
    "NewJob",
    "Observation",
    "Picked",
    "QueueItem",
    "ShadowPrediction",
    "Snapshot",
    "Store",
    "open_store",
]
