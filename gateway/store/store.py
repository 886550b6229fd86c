"""``Store``: classified tickets, the review queue, labels and their export; ``open_store``.

Every method is synchronous and thread-safe, one transaction each: callers on an event loop run
them in a worker thread. Database failures come out as ``StoreUnavailableError`` (503), broken
constraints as ``ConflictError`` (``engine.translated``). Nothing here logs or raises ticket text.
The queue's methods are ``ReviewQueue``'s (``queue``), the registry's ``ModelRegistry``'s.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import ColumnElement, Subquery, and_, delete, func, select

from gateway.store.engine import create_store_engine, parse_url, safe_url, translated
from gateway.store.engine import migrate as run_migrations
from gateway.store.jobs import JobQueue
from gateway.store.queue import ReviewQueue, shadows_of
from gateway.store.records import (
    DriftPoint,
    LabelledExample,
    LabelSource,
    Observation,
    Picked,
    Snapshot,
)
from gateway.store.registry import ModelRegistry
from gateway.store.session import Clock, utc_now
from gateway.store.tables import ItemAxisRow, ItemRow, LabelRow


def item_row(obs: Observation) -> ItemRow:
    """The row for an observation. Its priority (smaller: asked sooner) is the margin of the
    head in shadow on the primary axis where there is one (the labels are for the head:
    its uncertainty is the informative one), else the live scorer's margin."""
    snap = obs.snapshot
    margins = [s.margin for s in obs.shadow if s.axis == snap.axis] or [snap.primary.margin]
    return ItemRow(
        rubric=snap.rubric,
        fingerprint=snap.fingerprint,
        axis=snap.axis,
        request_id=snap.request_id,
        external_id=obs.external_id,
        text=obs.text,
        snapshot=snap.model_dump(mode="json"),
        shadow=[s.model_dump(mode="json") for s in obs.shadow],
        decision=snap.decision,
        priority=min(margins),
        queued=obs.queued and obs.text is not None,
        state="open",
        skips=0,
        classified_at=snap.at,
        axes=[
            ItemAxisRow(
                axis=name,
                top_label=answer.top_label,
                confidence=answer.confidence,
                none_fits=answer.none_fits,
            )
            for name, answer in snap.axes.items()
        ],
    )


def _newest_labels(*where: ColumnElement[bool]) -> Subquery:
    """Labels numbered newest first per (item, axis): ``n == 1`` is the one that counts."""
    newest_first = func.row_number().over(
        partition_by=(LabelRow.item_id, LabelRow.axis),
        order_by=(LabelRow.at.desc(), LabelRow.id.desc()),
    )
    return select(LabelRow, newest_first.label("n")).where(*where).subquery()


def _in_window(
    column: Any, since: datetime | None, until: datetime | None
) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    if since is not None:
        conditions.append(column >= since)
    if until is not None:
        conditions.append(column < until)
    return conditions


class Store(ReviewQueue, ModelRegistry, JobQueue):
    """The labelled-data store (``open_store`` builds one)."""

    # ------------------------------------------------------------------ writing tickets

    def record(self, observations: Sequence[Observation]) -> list[int]:
        """Store classified tickets in one transaction; their item ids, in order."""
        rows = [item_row(obs) for obs in observations]
        with self._tx() as session:
            session.add_all(rows)
            session.flush()
            return [row.id for row in rows]

    # ------------------------------------------------------------------ reading labels

    def export(
        self,
        *,
        rubric: str | None = None,
        axis: str | None = None,
        since: datetime | None = None,
    ) -> list[LabelledExample]:
        """The newest label of each (item, axis) with the item's text and what the live scorer
        (and the heads in shadow, on that axis) said; ``since`` bounds the label's time.
        Ordered by label time."""
        newest = _newest_labels(*([LabelRow.axis == axis] if axis is not None else []))
        query = (
            select(
                newest.c.axis, newest.c.label, newest.c.source, newest.c.who, newest.c.at, ItemRow
            )
            .join(ItemRow, ItemRow.id == newest.c.item_id)
            .where(newest.c.n == 1, *_in_window(newest.c.at, since, None))
            .order_by(newest.c.at, newest.c.id)
        )
        if rubric is not None:
            query = query.where(ItemRow.rubric == rubric)
        with self._tx(write=False) as session:
            return [
                self._example(item, axis=a, label=lab, source=src, who=who, at=at)
                for a, lab, src, who, at, item in session.execute(query)
            ]

    def drift_points(
        self,
        *,
        rubric: str,
        axis: str,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> list[DriftPoint]:
        """Each ticket of the rubric answered on ``axis`` and classified in [since, until), in
        time order, with its newest label on the axis if it has one."""
        newest = _newest_labels(LabelRow.axis == axis)
        query = (
            select(
                ItemRow.classified_at,
                ItemAxisRow.top_label,
                ItemAxisRow.confidence,
                ItemAxisRow.none_fits,
                ItemRow.fingerprint,
                newest.c.label,
            )
            .join(ItemAxisRow, and_(ItemAxisRow.item_id == ItemRow.id, ItemAxisRow.axis == axis))
            .outerjoin(newest, and_(newest.c.item_id == ItemRow.id, newest.c.n == 1))
            .where(ItemRow.rubric == rubric, *_in_window(ItemRow.classified_at, since, until))
            .order_by(ItemRow.classified_at, ItemRow.id)
        )
        with self._tx(write=False) as session:
            return [
                DriftPoint(
                    at=at,
                    top_label=top_label,
                    confidence=confidence,
                    none_fits=none_fits,
                    fingerprint=fingerprint,
                    label=label,
                )
                for at, top_label, confidence, none_fits, fingerprint, label in session.execute(
                    query
                )
            ]

    def volume(
        self,
        *,
        rubric: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> int:
        """Tickets classified in [since, until) (of one rubric set)."""
        query = (
            select(func.count())
            .select_from(ItemRow)
            .where(*_in_window(ItemRow.classified_at, since, until))
        )
        if rubric is not None:
            query = query.where(ItemRow.rubric == rubric)
        with self._tx(write=False) as session:
            return session.scalar(query) or 0

    def purge(self, *, older_than: datetime) -> int:
        """Delete the tickets classified before ``older_than``, with their labels; how many."""
        with self._tx() as session:
            result = session.connection().execute(
                delete(ItemRow).where(ItemRow.classified_at < older_than)
            )
            return result.rowcount

    @staticmethod
    def _example(
        item: ItemRow, *, axis: str, label: str, source: LabelSource, who: str, at: datetime
    ) -> LabelledExample:
        snap = Snapshot.model_validate(item.snapshot)
        answer = snap.axes.get(axis)
        return LabelledExample(
            id=f"item-{item.id}",
            text=item.text,
            label=label,
            rubric=item.rubric,
            fingerprint=item.fingerprint,
            axis=axis,
            predicted=answer.top_label if answer is not None else "",
            confidence=answer.confidence if answer is not None else 0.0,
            scorer=snap.scorer,
            model=snap.model,
            shadow=[s for s in shadows_of(item) if s.axis == axis],
            source=source,
            picked=cast("Picked | None", item.picked) if source == "review" else None,
            who=who,
            labelled_at=at,
            classified_at=item.classified_at,
            external_id=item.external_id,
            request_id=item.request_id,
        )


def open_store(
    url: str,
    *,
    migrate: bool = True,
    schema: str | None = None,
    clock: Clock | None = None,
) -> Store:
    """The store at ``url`` (``sqlite:///path`` or ``postgresql+psycopg://...``), migrated to
    the newest schema unless ``migrate`` is False (then only connected to). ``schema``: the
    PostgreSQL schema to use (tests). ``StoreUnavailableError`` names the URL, never its
    password, when the database cannot be reached."""
    parsed = parse_url(url)
    where = safe_url(parsed)
    engine = create_store_engine(parsed, schema=schema)
    try:
        with translated(where):
            if migrate:
                run_migrations(engine)
            else:
                with engine.connect():
                    pass
    except BaseException:
        engine.dispose()
        raise
    return Store(engine, where=where, clock=clock or utc_now)
