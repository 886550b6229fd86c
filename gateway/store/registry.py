"""The trained-model registry: each head's version, artefact and stage.

At most one head per (rubric, axis) is in ``shadow`` and one is ``promoted``: moving a head into
either stage moves the head that held it back to ``trained`` (a partial unique index holds the
database to it too).
"""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gateway.errors import ConflictError, ItemNotFoundError
from gateway.store.records import ModelRecord, ModelStage
from gateway.store.session import Transactions
from gateway.store.tables import ModelRow

LIVE_STAGES: frozenset[ModelStage] = frozenset({"shadow", "promoted"})


def model_record(row: ModelRow) -> ModelRecord:
    return ModelRecord.model_validate(row, from_attributes=True)


class ModelRegistry(Transactions):
    """The registry's half of ``Store``."""

    def next_version(self, rubric: str, axis: str) -> int:
        """1 + the highest version registered for the axis (1 for the first head)."""
        with self._tx(write=False) as session:
            newest = session.scalar(
                select(func.max(ModelRow.version)).where(
                    ModelRow.rubric == rubric, ModelRow.axis == axis
                )
            )
        return (newest or 0) + 1

    def register_model(self, record: ModelRecord) -> None:
        """Add a trained head; ``ConflictError`` when its id or version is registered already."""
        with self._tx() as session:
            taken = session.scalar(
                select(ModelRow.id).where(
                    (ModelRow.id == record.id)
                    | (
                        (ModelRow.rubric == record.rubric)
                        & (ModelRow.axis == record.axis)
                        & (ModelRow.version == record.version)
                    )
                )
            )
            if taken is not None:
                raise ConflictError(
                    f"model {record.id} (version {record.version} of "
                    f"{record.rubric}.{record.axis}) is already registered"
                )
            siblings = self._siblings(session, record.rubric, record.axis)
            if record.stage in LIVE_STAGES:
                self._vacate(session, siblings, record.stage)
            session.add(ModelRow(**record.model_dump()))

    def models(self, rubric: str | None = None) -> list[ModelRecord]:
        """Every registered head (of one rubric set), by rubric, axis and version."""
        query = select(ModelRow).order_by(ModelRow.rubric, ModelRow.axis, ModelRow.version)
        if rubric is not None:
            query = query.where(ModelRow.rubric == rubric)
        with self._tx(write=False) as session:
            return [model_record(row) for row in session.scalars(query)]

    def model(self, model_id: str) -> ModelRecord:
        with self._tx(write=False) as session:
            row = session.get(ModelRow, model_id)
            if row is None:
                raise ItemNotFoundError(f"no model {model_id!r} in the registry (rubric models)")
            return model_record(row)

    def set_stage(self, model_id: str, stage: ModelStage) -> ModelRecord:
        """Move a head to ``stage``; into shadow or promoted, the previous holder of that stage
        for the axis goes back to trained."""
        with self._tx() as session:
            found = session.execute(
                select(ModelRow.rubric, ModelRow.axis).where(ModelRow.id == model_id)
            ).first()
            if found is None:
                raise ItemNotFoundError(f"no model {model_id!r} in the registry (rubric models)")
            # lock the axis' heads in one order, so concurrent moves wait instead of deadlocking
            siblings = self._siblings(session, found.rubric, found.axis)
            target = next(row for row in siblings if row.id == model_id)
            if stage in LIVE_STAGES and target.stage != stage:
                self._vacate(session, siblings, stage)
            target.stage = stage
            target.staged_at = self._clock()
            session.flush()
            return model_record(target)

    def staged(self, rubric: str, stage: ModelStage) -> list[ModelRecord]:
        """The heads of a rubric set in ``stage``, by axis (newest version first)."""
        query = (
            select(ModelRow)
            .where(ModelRow.rubric == rubric, ModelRow.stage == stage)
            .order_by(ModelRow.axis, ModelRow.version.desc())
        )
        with self._tx(write=False) as session:
            return [model_record(row) for row in session.scalars(query)]

    @staticmethod
    def _siblings(session: Session, rubric: str, axis: str) -> list[ModelRow]:
        query = (
            select(ModelRow)
            .where(ModelRow.rubric == rubric, ModelRow.axis == axis)
            .order_by(ModelRow.id)
            .with_for_update()
        )
        return list(session.scalars(query))

    @staticmethod
    def _vacate(session: Session, siblings: list[ModelRow], stage: ModelStage) -> None:
        for row in siblings:
            if row.stage == stage:
                row.stage = "trained"
        session.flush()  # before the new holder's update: the unique index checks each row
