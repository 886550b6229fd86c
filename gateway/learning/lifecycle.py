"""A head's life: trained from the store's labels, put in shadow, promoted on evidence, rolled back.

Used by the ``rubric`` CLI and the cold-start benchmark alike. The registry (the store's
``models`` table) is the single source of truth, so a running server picks up a change within
``GATEWAY_HEADS_REFRESH_S`` (``pipeline.heads``).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

from pydantic import BaseModel

from gateway.errors import ItemNotFoundError, PromotionRefusedError
from gateway.learning.evidence import Evidence, compare, crossfit_answers, held_out
from gateway.learning.memo import EmbeddingMemo
from gateway.learning.recorder import shadow_predictions
from gateway.learning.train import TrainingExample, TrainOptions, TrainReport, train_head
from gateway.rubrics import RubricSet
from gateway.scoring import Embedder, TrainedHead, load_head
from gateway.store import ModelRecord, Store


class Trained(BaseModel):
    record: ModelRecord
    report: TrainReport


def training_examples(store: Store, rubric: str, axis: str) -> list[TrainingExample]:
    """Every stored correction of the axis that has its text, newest label per ticket."""
    return [
        TrainingExample(text=e.text, label=e.label)
        for e in store.export(rubric=rubric, axis=axis)
        if e.text is not None
    ]


def train_from_store(
    store: Store,
    encoder: Embedder,
    rubric: RubricSet,
    axis: str,
    models_dir: Path,
    options: TrainOptions | None = None,
) -> Trained:
    """Train the next version of the axis' head on the stored labels and register it."""
    options = options or TrainOptions()
    examples = training_examples(store, rubric.name, axis)
    unlabelled = store.waiting_texts(rubric=rubric.name, axis=axis) if options.self_train else []
    version = store.next_version(rubric.name, axis)
    head, report = train_head(
        examples, rubric, axis, encoder, version=version, options=options, unlabelled=unlabelled
    )
    directory = models_dir / rubric.name / axis / f"v{version}"
    head.save(directory)
    record = ModelRecord(
        id=head.meta.id,
        rubric=rubric.name,
        axis=axis,
        version=version,
        fingerprint=rubric.fingerprint,
        encoder_sha256=encoder.sha256,
        path=str(directory),
        stage="trained",
        trained_at=head.meta.trained_at,
        labels_used=report.labels_used,
        cv_macro_f1=report.cv_macro_f1,
        cv_accuracy=report.cv_accuracy,
    )
    store.register_model(record)
    return Trained(record=record, report=report)


def loaded(record: ModelRecord, encoder: Embedder) -> TrainedHead:
    return load_head(Path(record.path), encoder_sha256=encoder.sha256)


def evidence_for(
    store: Store,
    encoder: Embedder,
    model_id: str,
    rubric: RubricSet,
    options: TrainOptions | None = None,
) -> Evidence | None:
    """Live vs head on the audit picks (``learning.evidence``); None while there are none.
    ``rubric`` and ``options`` as the head was trained with (its cross-fitted answers); without
    ``options``, its recorded C and whether it used weak rows."""
    record = store.model(model_id)
    audit = held_out(store, record)
    if not audit:
        return None
    encoder = EmbeddingMemo(encoder)  # k heads trained on nearly the same texts
    head = loaded(record, encoder)
    labelled = store.export(rubric=record.rubric, axis=record.axis)
    options = options or TrainOptions(C=head.meta.C, weak_labels=head.meta.weak_labels_used > 0)
    answers, folds = crossfit_answers(head, labelled, audit, rubric, encoder, options)
    return compare(record, head.meta.labels, answers, audit, folds=folds)


def shadow(store: Store, model_id: str, encoder: Embedder | None = None) -> ModelRecord:
    """The head scores every ticket of its rubric beside the live scorer (the previous shadow
    of that axis, if any, steps back to 'trained'). With the ``encoder``, the tickets waiting
    for review are re-ranked by the head's margins: the next labels go where it is unsure."""
    record = store.set_stage(model_id, "shadow")
    if encoder is not None:
        head = loaded(record, encoder)

        def margins(texts: Sequence[str]) -> list[float]:
            return [p.margin for p in shadow_predictions(head, encoder.embed(texts))]

        store.reprioritise(rubric=record.rubric, axis=record.axis, margins=margins)
    return record


def promote(
    store: Store,
    encoder: Embedder,
    model_id: str,
    rubric: RubricSet,
    *,
    force: bool = False,
    options: TrainOptions | None = None,
) -> Evidence | None:
    """Serve the head first; refused, with the numbers, unless it beats the live scorer on the
    audit picks with McNemar's test significant, and unless it would answer some tickets at all
    (``force`` overrides both)."""
    record = store.model(model_id)
    if not force and loaded(record, encoder).meta.thresholds.auto_route >= 1.0:
        # promoted, it would answer nothing, and the live scorer's evidence clock would restart
        raise PromotionRefusedError(
            f"{model_id} not promoted: it would auto-route nothing (its out-of-fold answers, "
            f"{record.labels_used} labels, back the target precision at no confidence); "
            "train again when more labels are in"
        )
    evidence = evidence_for(store, encoder, model_id, rubric, options)
    if evidence is None:
        if not force:
            raise PromotionRefusedError(
                f"{model_id} not promoted: no held-out audit picks yet (the random share of the "
                "review queue, GATEWAY_REVIEW_EXPLORE, labelled since the live scorer began); "
                "let it run in shadow while reviewers label"
            )
    elif not evidence.head_better and not force:
        raise PromotionRefusedError(f"{model_id} not promoted: {evidence.summary()}")
    store.set_stage(model_id, "promoted")
    return evidence


def rollback(store: Store, rubric: str, axis: str | None = None) -> list[ModelRecord]:
    """The promoted head(s) of a rubric go back to shadow: the live scorer answers again."""
    promoted = [r for r in store.staged(rubric, "promoted") if axis is None or r.axis == axis]
    if not promoted:
        where = f"{rubric}.{axis}" if axis else rubric
        raise ItemNotFoundError(f"no promoted head for {where}")
    return [store.set_stage(r.id, "shadow") for r in promoted]


def purge(store: Store, retention_days: int, now: datetime | None = None) -> int:
    """Delete tickets classified more than ``retention_days`` ago, with their labels."""
    cutoff = (now or datetime.now(UTC)) - timedelta(days=retention_days)
    return store.purge(older_than=cutoff)
