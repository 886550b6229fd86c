"""The review queue and labels: claim, label, skip, and feedback from any tool.

An item enters the queue when its observation is ``queued`` and has text; it waits until the
axis being reviewed (the primary axis unless a claim names one) has a label. ``claim`` leases
items to a reviewer, the reviewer's own valid leases first (asking again gives the same items
back), then free ones by ``skips``, ``priority`` (the smallest margin: the shadow head's
where one ran, else the live scorer's; ``reprioritise`` re-ranks for a new head), age and id.
Claims never hand one item to two reviewers: PostgreSQL locks the chosen rows (``FOR UPDATE
SKIP LOCKED``), SQLite's writers run one at a time (``BEGIN IMMEDIATE``).

A lease is its holder's alone: the name a reviewer claimed with (the server's ``<key>`` or
``<key>/<person>``) is the name that may label or skip the item while the lease runs.

An item's ``state`` says where it stands on its primary axis: ``labelled`` once that axis has a
label (from review or feedback), ``skipped`` after a skip, ``open`` before; labels on other axes
leave it as it is. What the queue hands out is decided by the labels themselves.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import cast

from pydantic import TypeAdapter
from sqlalchemy import ColumnElement, exists, func, literal, or_, select
from sqlalchemy.orm import Session

from gateway.errors import InvalidRequestError, ItemNotFoundError, LeaseHeldError
from gateway.store.records import (
    LabelRecord,
    LabelSource,
    Picked,
    QueueItem,
    ShadowPrediction,
    Snapshot,
)
from gateway.store.session import Transactions
from gateway.store.tables import ItemAxisRow, ItemRow, LabelRow

_SHADOWS = TypeAdapter(list[ShadowPrediction])
_QUEUE_ORDER = (ItemRow.skips, ItemRow.priority, ItemRow.classified_at, ItemRow.id)


def shadows_of(row: ItemRow) -> list[ShadowPrediction]:
    return _SHADOWS.validate_python(row.shadow)


def queue_item(row: ItemRow) -> QueueItem:
    """An item as a reviewer sees it; ``text`` is "" for an item the store kept no text for
    (only queued items are sure to have text)."""
    return QueueItem(
        id=row.id,
        text=row.text or "",
        external_id=row.external_id,
        snapshot=Snapshot.model_validate(row.snapshot),
        shadow=shadows_of(row),
        priority=row.priority,
        picked=cast("Picked | None", row.picked),
        lease_owner=row.lease_owner,
        lease_until=row.lease_until,
    )


def holds(owner: str, reviewer: str) -> bool:
    """Whether a lease taken by ``owner`` is ``reviewer``'s."""
    return reviewer == owner


def label_record(row: LabelRow) -> LabelRecord:
    return LabelRecord.model_validate(row, from_attributes=True)


class ReviewQueue(Transactions):
    """The queue's and the labels' half of ``Store``."""

    def claim(
        self,
        *,
        reviewer: str,
        rubric: str | None = None,
        axis: str | None = None,
        limit: int = 10,
        lease_s: float = 900.0,
        explore: float = 0.0,
        rng: random.Random | None = None,
    ) -> list[QueueItem]:
        """Lease up to ``limit`` items to ``reviewer`` for ``lease_s`` seconds (see the module
        docstring for which and in what order); the reviewer's own leases are renewed. Each
        new item is, with probability ``explore``, drawn at random from the waiting ones
        instead (``picked="random"``): the audit sample a head's evidence is computed on."""
        now = self._clock()
        draw = rng or random
        with self._tx() as session:
            waiting = self._waiting(rubric, axis)
            mine = self._locked(
                session,
                [*waiting, ItemRow.lease_owner == reviewer, ItemRow.lease_until > now],
                limit,
            )
            free: list[ItemRow] = []
            need = limit - len(mine)
            if need > 0:
                lease_free = or_(ItemRow.lease_until.is_(None), ItemRow.lease_until <= now)
                audits = sum(draw.random() < explore for _ in range(need))
                if audits:
                    free = self._locked(session, [*waiting, lease_free], audits, at_random=True)
                    for row in free:
                        row.picked = "random"
                taken = [row.id for row in free]
                ordered = self._locked(
                    session, [*waiting, lease_free, ItemRow.id.not_in(taken)], need - len(free)
                )
                for row in ordered:
                    row.picked = "margin"
                free += ordered
            rows = mine + free
            until = now + timedelta(seconds=lease_s)
            for row in rows:
                row.lease_owner, row.lease_until = reviewer, until
            session.flush()
            return [queue_item(row) for row in rows]

    def item(self, item_id: int) -> QueueItem:
        with self._tx(write=False) as session:
            return queue_item(self._item(session, item_id))

    def label(
        self,
        item_id: int,
        *,
        axis: str,
        label: str,
        who: str,
        source: LabelSource,
        reviewer: str | None = None,
    ) -> LabelRecord:
        """Record a label and release the item. ``LeaseHeldError`` while another reviewer's
        lease on it runs (``reviewer`` is who is asking; ``who`` when not given)."""
        now = self._clock()
        with self._tx() as session:
            row = self._item(session, item_id, lock=True)
            self._check_lease(row, reviewer if reviewer is not None else who, now)
            record = self._add_label(session, row, axis=axis, label=label, who=who, source=source)
            row.lease_owner, row.lease_until = None, None
            session.flush()
            return label_record(record)

    def skip(self, item_id: int, *, reviewer: str) -> None:
        """Release the item and put it behind the items skipped fewer times."""
        now = self._clock()
        with self._tx() as session:
            row = self._item(session, item_id, lock=True)
            self._check_lease(row, reviewer, now)
            row.lease_owner, row.lease_until = None, None
            row.skips += 1
            if row.state == "open":
                row.state = "skipped"

    def queue_size(self, *, rubric: str | None = None) -> int:
        """Items waiting for a label on their primary axis (leased ones included)."""
        query = select(func.count()).select_from(ItemRow).where(*self._waiting(rubric, None))
        with self._tx(write=False) as session:
            return session.scalar(query) or 0

    def waiting_texts(self, *, rubric: str, axis: str, limit: int = 20_000) -> list[str]:
        """Texts of the newest ``limit`` items waiting for a label on their primary axis
        ``axis`` (the unlabelled tickets a head self-trains on; redacted, as stored)."""
        where = [*self._waiting(rubric, None), ItemRow.axis == axis, ItemRow.text.is_not(None)]
        query = select(ItemRow.text).where(*where).order_by(ItemRow.id.desc()).limit(limit)
        with self._tx(write=False) as session:
            return [text for text in session.scalars(query) if text]

    def reprioritise(
        self,
        *,
        rubric: str,
        axis: str,
        margins: Callable[[Sequence[str]], Sequence[float]],
        chunk: int = 512,
    ) -> int:
        """Re-rank the waiting items of ``rubric`` whose primary axis is ``axis`` by
        ``margins(texts)`` (a new head in shadow: its uncertainty is what the next labels
        should resolve). Returns the items re-ranked."""
        where = [*self._waiting(rubric, None), ItemRow.axis == axis, ItemRow.text.is_not(None)]
        with self._tx(write=False) as session:
            ids = list(session.scalars(select(ItemRow.id).where(*where).order_by(ItemRow.id)))
        done = 0
        for start in range(0, len(ids), chunk):
            with self._tx() as session:
                rows = list(
                    session.scalars(
                        select(ItemRow).where(ItemRow.id.in_(ids[start : start + chunk]))
                    )
                )
                for row, margin in zip(rows, margins([r.text or "" for r in rows]), strict=True):
                    row.priority = float(margin)
                done += len(rows)
        return done

    # ------------------------------------------------------------------ feedback

    def feedback(
        self,
        *,
        request_id: str | None = None,
        external_id: str | None = None,
        rubric: str | None = None,
        axis: str | None = None,
        label: str,
        who: str,
        source: LabelSource,
        check: Callable[[Snapshot], str] | None = None,
    ) -> tuple[LabelRecord, Snapshot, bool]:
        """A label for a ticket named by exactly one of ``request_id`` and ``external_id`` (the
        newest ticket with it, of ``rubric`` if given). ``check(snapshot)``, called before
        anything is written, returns the axis to label and may raise to refuse; without it the
        axis is ``axis`` or the primary one. Idempotent: when the newest label of that axis is
        this one from the same ``who`` and ``source``, it is returned with ``created`` False.
        Feedback does not wait for a reviewer's lease."""
        if (request_id is None) == (external_id is None):
            raise InvalidRequestError("give exactly one of request_id and external_id")
        query = select(ItemRow)
        if request_id is not None:
            query = query.where(ItemRow.request_id == request_id)
            what = f"request id {request_id!r}"
        else:
            query = query.where(ItemRow.external_id == external_id)
            what = f"external id {external_id!r}"
        if rubric is not None:
            query = query.where(ItemRow.rubric == rubric)
            what += f" in rubric set {rubric!r}"
        query = query.order_by(ItemRow.classified_at.desc(), ItemRow.id.desc()).limit(1)
        with self._tx() as session:
            row = session.scalars(query.with_for_update(of=ItemRow)).first()
            if row is None:
                raise ItemNotFoundError(f"no classified ticket with {what}")
            snapshot = Snapshot.model_validate(row.snapshot)
            target = check(snapshot) if check is not None else (axis or snapshot.axis)
            newest = session.scalars(
                select(LabelRow)
                .where(LabelRow.item_id == row.id, LabelRow.axis == target)
                .order_by(LabelRow.at.desc(), LabelRow.id.desc())
                .limit(1)
            ).first()
            said = (label, who, source)
            if newest is not None and (newest.label, newest.who, newest.source) == said:
                return label_record(newest), snapshot, False
            record = self._add_label(session, row, axis=target, label=label, who=who, source=source)
            if target == row.axis:
                row.lease_owner, row.lease_until = None, None
            session.flush()
            return label_record(record), snapshot, True

    # ------------------------------------------------------------------ helpers

    @staticmethod
    def _waiting(rubric: str | None, axis: str | None) -> list[ColumnElement[bool]]:
        """Queued items with no label on ``axis`` (answered on it), or on their primary axis."""
        on_axis: ColumnElement[str] = literal(axis) if axis is not None else ItemRow.axis.expression
        conditions: list[ColumnElement[bool]] = [
            ItemRow.queued.is_(True),
            ~exists().where(LabelRow.item_id == ItemRow.id, LabelRow.axis == on_axis),
        ]
        if axis is not None:
            conditions.append(
                exists().where(ItemAxisRow.item_id == ItemRow.id, ItemAxisRow.axis == axis)
            )
        if rubric is not None:
            conditions.append(ItemRow.rubric == rubric)
        return conditions

    @staticmethod
    def _locked(
        session: Session, where: list[ColumnElement[bool]], limit: int, *, at_random: bool = False
    ) -> list[ItemRow]:
        """Up to ``limit`` items in queue order (or at random), locked for this transaction;
        rows another claim holds are passed over (PostgreSQL; SQLite's claims never overlap)."""
        if limit <= 0:
            return []
        query = (
            select(ItemRow)
            .where(*where)
            .order_by(*((func.random(),) if at_random else _QUEUE_ORDER))
            .limit(limit)
            .with_for_update(skip_locked=True, of=ItemRow)
        )
        return list(session.scalars(query))

    @staticmethod
    def _item(session: Session, item_id: int, *, lock: bool = False) -> ItemRow:
        row = session.get(ItemRow, item_id, with_for_update=lock or None)
        if row is None:
            raise ItemNotFoundError(f"no review item {item_id}")
        return row

    @staticmethod
    def _check_lease(row: ItemRow, reviewer: str, now: datetime) -> None:
        owner, until = row.lease_owner, row.lease_until
        if owner is None or until is None or until <= now or holds(owner, reviewer):
            return
        raise LeaseHeldError(
            f"review item {row.id} is leased to another reviewer until "
            f"{until.isoformat(timespec='seconds')}"
        )

    def _add_label(
        self, session: Session, row: ItemRow, *, axis: str, label: str, who: str, source: str
    ) -> LabelRow:
        record = LabelRow(
            item_id=row.id, axis=axis, label=label, who=who, source=source, at=self._clock()
        )
        session.add(record)
        if axis == row.axis:
            row.state = "labelled"
        return record
