"""Train → shadow → promote → rollback end to end on a small slice: the real encoder, the real
classifier and recorder, a real SQLite store. Two rubrics: ``support`` as shipped (the zero-shot
scorer is good on these tickets) and a copy whose label questions are rotated one place (the
zero-shot scorer is wrong on nearly every ticket; a head trained on the true labels is not)."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import yaml
from support.settings import make_settings
from support.tickets import tickets

from gateway.config import PROJECT_ROOT, Settings
from gateway.errors import NotEnoughLabelsError, PromotionRefusedError
from gateway.learning.lifecycle import (
    evidence_for,
    promote,
    rollback,
    shadow,
    train_from_store,
)
from gateway.learning.recorder import Recorder
from gateway.learning.train import TrainOptions
from gateway.pipeline import Classifier, build_classifier
from gateway.rubrics import RubricSet, RubricStore
from gateway.schemas import ClassifyRequest, ClassifyResponse
from gateway.scoring import LocalScorer, load_head
from gateway.store import Store, open_store

AXIS = "category"
# no weak rows; thresholds at the point estimate: 42 labels cannot back a 95% lower bound
# (test_train.py checks the default)
NO_WEAK = TrainOptions(weak_labels=False, precision_z=0.0)


def _rotated(source: Path, target: Path) -> None:
    """``support.yaml`` with each category label asking the next label's question."""
    doc = yaml.safe_load(source.read_text())
    doc["name"] = "rotated"
    labels = doc["axes"][AXIS]["labels"]
    asks = [(label["rubric"], label["examples"]) for label in labels]
    for i, label in enumerate(labels):
        label["rubric"], label["examples"] = asks[(i + 1) % len(asks)]
    target.write_text(yaml.safe_dump(doc, sort_keys=False))


class Loop:
    """The pieces the server wires, in-process: classify, record, review."""

    def __init__(self, settings: Settings, local: LocalScorer, store: Store) -> None:
        self.store = store
        self.rubrics = RubricStore(settings.rubrics.dir, settings.rubrics.reload_interval_s)
        self.classifier: Classifier = build_classifier(
            settings, rubrics=self.rubrics, local=local, registry=store
        )
        self.recorder = Recorder(store, settings.store, heads=self.classifier.heads)
        self.encoder = local.encoder
        self.models_dir = settings.store.models_dir

    def rubric(self, name: str) -> RubricSet:
        return self.rubrics.get(name)

    def classify(self, rubric: str, batch: list[tuple[str, str]]) -> list[ClassifyResponse]:
        async def run() -> list[ClassifyResponse]:
            return [
                await self.classifier.classify(
                    ClassifyRequest(
                        text=text, rubric=rubric, redact=False, metadata={"ticket_id": f"t{i}"}
                    )
                )
                for i, (text, _) in enumerate(batch)
            ]

        responses = asyncio.run(run())
        for i, resp in enumerate(responses):
            self.recorder.submit(resp, f"{rubric}-{id(batch)}-{i}")
        assert self.recorder.flush()
        return responses

    def review(self, rubric: str, truth: dict[str, str], *, audit: bool = True) -> int:
        """Answer the whole queue with ``truth``: every pick an audit pick (all of it is
        evidence), or none."""
        done = 0
        explore = 1.0 if audit else 0.0
        while items := self.store.claim(
            reviewer="rev", rubric=rubric, axis=AXIS, limit=50, lease_s=60, explore=explore
        ):
            for item in items:
                assert item.text is not None
                self.store.label(
                    item.id,
                    axis=AXIS,
                    label=truth[item.text],
                    who="rev",
                    source="review",
                    reviewer="rev",
                )
                done += 1
        return done

    def close(self) -> None:
        self.recorder.close()
        self.classifier.close()


@pytest.fixture
def loop(tmp_path: Path, local_scorer: LocalScorer) -> Iterator[Loop]:
    rubric_dir = tmp_path / "rubrics"
    rubric_dir.mkdir()
    shutil.copy(PROJECT_ROOT / "rubrics" / "support.yaml", rubric_dir / "support.yaml")
    _rotated(PROJECT_ROOT / "rubrics" / "support.yaml", rubric_dir / "rotated.yaml")
    settings = make_settings(
        cache={"enabled": False},
        rubrics={"dir": rubric_dir},
        redaction={"allow_unredacted": True},  # template tickets: nothing to redact
        # every ticket keeps its text and enters the queue; heads are re-read at once
        store={
            "data_dir": tmp_path / "data",
            "text_for": "all",
            "queue_for": "all",
            "heads_refresh_s": 0,
        },
    )
    store = open_store(settings.store.url)
    running = Loop(settings, local_scorer, store)
    yield running
    running.close()
    store.close()


def _round(
    loop: Loop, rubric: str, per_label: int, offset: int, *, audit: bool = True
) -> list[ClassifyResponse]:
    batch = tickets(per_label, offset)
    responses = loop.classify(rubric, batch)
    assert loop.review(rubric, dict(batch), audit=audit) == len(batch)
    return responses


def test_a_head_beats_a_misleading_rubric_and_is_promoted_then_rolled_back(loop: Loop) -> None:
    rubric = loop.rubric("rotated")
    first = _round(loop, "rotated", per_label=6, offset=0, audit=False)
    # the rotated rubric answers each ticket with the neighbouring label
    wrong = sum(r.top_label != label for r, (_, label) in zip(first, tickets(6), strict=True))
    assert wrong >= 0.8 * len(first)

    trained = train_from_store(loop.store, loop.encoder, rubric, AXIS, loop.models_dir, NO_WEAK)
    record = trained.record
    assert record.id == "head/rotated.category@v1" and record.stage == "trained"
    assert trained.report.labels_used == 42
    assert set(trained.report.per_label.values()) == {6}
    assert [m.id for m in loop.store.models("rotated")] == [record.id]

    # the queue's own picks only (smallest margin first): no unbiased sample, so no promotion
    shadow(loop.store, record.id)
    with pytest.raises(PromotionRefusedError, match="no held-out audit picks"):
        promote(loop.store, loop.encoder, record.id, rubric, options=NO_WEAK)

    # in shadow, the head scores every ticket beside the live scorer and changes no response
    held = _round(loop, "rotated", per_label=4, offset=6)
    assert all(r.scorer == first[0].scorer for r in held)
    exported = loop.store.export(rubric="rotated", axis=AXIS, since=record.trained_at)
    assert len(exported) == 28
    assert all([s.model_id for s in e.shadow] == [record.id] for e in exported)

    evidence = evidence_for(loop.store, loop.encoder, record.id, rubric, NO_WEAK)
    assert evidence is not None and evidence.n == 28 and evidence.folds == 5
    assert evidence.head_accuracy > evidence.live_accuracy + 0.5
    assert evidence.head_better
    promote(loop.store, loop.encoder, record.id, rubric, options=NO_WEAK)
    assert [m.id for m in loop.store.staged("rotated", "promoted")] == [record.id]

    # promoted: the head answers first; the response names it, so does the cache key
    served = loop.classify("rotated", tickets(3, offset=10))
    # the head answers where it is sure (scorer and model name it and its version), the
    # live scorer where it is not
    assert {r.scorer for r in served} <= {"head", first[0].scorer}
    by_head = [r for r in served if r.scorer == "head"]
    assert by_head and all(r.model == record.id and r.decision == "auto_route" for r in by_head)
    truth = dict(tickets(3, offset=10))
    assert sum(r.top_label == truth[r.redacted_text or ""] for r in by_head) >= 0.9 * len(by_head)

    rolled = rollback(loop.store, "rotated")
    assert [(m.id, m.stage) for m in rolled] == [(record.id, "shadow")]
    after = loop.classify("rotated", tickets(1, offset=13))
    assert {r.scorer for r in after} == {first[0].scorer}


def test_promotion_is_refused_with_the_numbers_when_the_head_is_worse(loop: Loop) -> None:
    rubric = loop.rubric("support")
    batch = tickets(4)
    loop.classify("support", batch)
    # a careless reviewer: every label shifted one place, so the head learns the wrong map
    names = [label for _, label in tickets(1)]
    shifted = {text: names[(names.index(label) + 1) % len(names)] for text, label in batch}
    loop.review("support", shifted, audit=False)
    trained = train_from_store(loop.store, loop.encoder, rubric, AXIS, loop.models_dir, NO_WEAK)
    shadow(loop.store, trained.record.id)
    _round(loop, "support", per_label=4, offset=4)  # now the true labels

    with pytest.raises(PromotionRefusedError) as refused:
        promote(loop.store, loop.encoder, trained.record.id, rubric, options=NO_WEAK)
    message = refused.value.message
    assert "28 held-out" in message and "accuracy" in message and "p=" in message
    assert loop.store.staged("support", "promoted") == []

    # forced, it is promoted all the same (an operator's call, recorded as such)
    evidence = promote(
        loop.store, loop.encoder, trained.record.id, rubric, force=True, options=NO_WEAK
    )
    assert not evidence.head_better
    assert [m.id for m in loop.store.staged("support", "promoted")] == [trained.record.id]


def test_training_refuses_naming_the_labels_short_of_examples(loop: Loop) -> None:
    batch = [pair for pair in tickets(3) if pair[1] != "sales"][:-1]  # feedback: 2, sales: 0
    loop.classify("support", batch)
    loop.review("support", dict(batch))
    with pytest.raises(NotEnoughLabelsError) as short:
        train_from_store(
            loop.store,
            loop.encoder,
            loop.rubric("support"),
            AXIS,
            loop.models_dir,
            TrainOptions(weak_labels=False, min_per_label=3),
        )
    assert "sales" in short.value.message and "feedback" in short.value.message
    assert "billing" not in short.value.message
    assert loop.store.models("support") == []


def test_the_cli_trains_shadows_reports_promotes_and_rolls_back(
    loop: Loop, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from gateway.cli import app
    from gateway.config import get_settings

    # the CLI reads the same store, models and rubrics as the loop's in-process server
    monkeypatch.setenv("GATEWAY_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("GATEWAY_RUBRICS_DIR", str(tmp_path / "rubrics"))
    get_settings.cache_clear()
    runner = CliRunner()

    def rubric(*args: str) -> str:
        result = runner.invoke(app, list(args))
        assert result.exit_code == 0, (args, result.output, result.exception)
        return " ".join(result.output.split())  # rich wraps at the runner's 80 columns

    head = "head/rotated.category@v1"
    _round(loop, "rotated", per_label=6, offset=0, audit=False)
    trained = rubric("train", "rotated", "--no-weak-labels")
    assert head in trained and "42 labels (+0 weak)" in trained
    assert "cross-validated (5 folds)" in trained
    assert f"next: rubric shadow start {head}" in trained
    assert head in rubric("models", "rotated") and "trained" in rubric("models", "rotated")
    assert f"{head} in shadow for rotated.category" in rubric("shadow", "start", head)

    # no audit pick labelled since training: the report says so
    assert "no held-out corrections yet" in rubric("shadow", "report", "rotated")
    _round(loop, "rotated", per_label=4, offset=6)
    report = rubric("shadow", "report", "rotated")
    assert "on 28 held-out audit picks" in report and "McNemar" in report
    # 42 labels back no auto-route threshold: refused, and the operator may force it
    refused = runner.invoke(app, ["promote", head])
    assert isinstance(refused.exception, PromotionRefusedError)
    assert "would auto-route nothing" in refused.exception.message
    promoted = rubric("promote", head, "--force")
    assert f"promoted {head}" in promoted and "accuracy" in promoted
    assert [m.stage for m in loop.store.models("rotated")] == ["promoted"]
    assert f"{head} back in shadow" in rubric("rollback", "rotated")
    assert [m.stage for m in loop.store.models("rotated")] == ["shadow"]
    get_settings.cache_clear()


def test_a_head_that_would_auto_route_nothing_is_not_promoted(loop: Loop) -> None:
    rubric = loop.rubric("rotated")
    _round(loop, "rotated", per_label=6, offset=0, audit=False)
    # 42 out-of-fold answers cannot back 95% at the Wilson bound: auto_route 1.0
    trained = train_from_store(
        loop.store, loop.encoder, rubric, AXIS, loop.models_dir, TrainOptions(weak_labels=False)
    )
    assert trained.report.thresholds.auto_route == 1.0
    shadow(loop.store, trained.record.id)
    _round(loop, "rotated", per_label=4, offset=6)
    with pytest.raises(PromotionRefusedError, match="would auto-route nothing"):
        promote(loop.store, loop.encoder, trained.record.id, rubric)
    assert loop.store.staged("rotated", "promoted") == []
    # the evidence alone would have carried it: forced, it is promoted
    evidence = promote(loop.store, loop.encoder, trained.record.id, rubric, force=True)
    assert evidence is not None and evidence.head_better


def test_self_training_reads_the_waiting_tickets_of_the_axis(loop: Loop) -> None:
    rubric = loop.rubric("support")
    batch = tickets(3)
    loop.classify("support", batch)
    truth = dict(batch)
    items = loop.store.claim(reviewer="rev", rubric="support", axis=AXIS, limit=14, lease_s=60)
    for item in items:
        loop.store.label(
            item.id, axis=AXIS, label=truth[item.text], who="rev", source="review", reviewer="rev"
        )
    labelled = {item.text for item in items}
    waiting = loop.store.waiting_texts(rubric="support", axis=AXIS)
    assert sorted(waiting) == sorted(set(truth) - labelled) and len(waiting) == len(batch) - 14
    assert loop.store.waiting_texts(rubric="support", axis="priority") == []
    # weak rows: 14 labels need not cover every label
    plain = TrainOptions(precision_z=0.0)
    models = loop.models_dir
    with_waiting = train_from_store(
        loop.store,
        loop.encoder,
        rubric,
        AXIS,
        models,
        plain.model_copy(update={"self_train": True, "self_train_from": 0}),
    )
    without = train_from_store(loop.store, loop.encoder, rubric, AXIS, models, plain)
    assert with_waiting.report.labels_used == without.report.labels_used == 14
    assert with_waiting.report.self_trained and not without.report.self_trained
    a = load_head(Path(with_waiting.record.path), encoder_sha256=loop.encoder.sha256)
    b = load_head(Path(without.record.path), encoder_sha256=loop.encoder.sha256)
    assert not np.allclose(a.coef, b.coef)
