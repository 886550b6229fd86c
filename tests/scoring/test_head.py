"""Trained heads: saved and loaded with their checks, served as a Scorer, and cascaded in front of
another scorer (a fake at the Scorer seam that records what reaches it)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
from support.tickets import tickets

from gateway.config import PROJECT_ROOT
from gateway.errors import GatewayError, InvalidRequestError, ModelFileError, ProviderError
from gateway.learning.train import TrainingExample, TrainOptions, train_head
from gateway.rubrics import RubricSet, load_rubric_file
from gateway.scoring import (
    AxisScores,
    Encoder,
    HeadCascade,
    HeadScorer,
    LocalScorer,
    ScoreOutcome,
    Scorer,
    ScoreResult,
    TrainedHead,
    load_head,
)

SURE = "I was billed 3 times for the same subscription, please refund the extra charges"
UNSURE = "hello"


@pytest.fixture(scope="module")
def encoder(local_scorer: LocalScorer) -> Encoder:
    return local_scorer.encoder


@pytest.fixture(scope="module")
def rubric() -> RubricSet:
    return load_rubric_file(PROJECT_ROOT / "rubrics" / "support.yaml")


@pytest.fixture(scope="module")
def head(encoder: Encoder, rubric: RubricSet) -> TrainedHead:
    examples = [TrainingExample(text=t, label=label) for t, label in tickets(8)]
    trained, _ = train_head(examples, rubric, "category", encoder, version=1)
    return trained


def with_meta(head: TrainedHead, **update: object) -> TrainedHead:
    return TrainedHead(head.meta.model_copy(update=update), head.coef, head.intercept)


def gate_between(head: TrainedHead, encoder: Encoder) -> TrainedHead:
    """The head, its auto_route set between its confidence on SURE and on UNSURE."""
    sure, unsure = head.predict_proba(encoder.embed([SURE, UNSURE])).max(axis=1)
    assert sure > unsure
    thresholds = head.meta.thresholds.model_copy(
        update={"auto_route": (sure + unsure) / 2, "review": unsure / 2}
    )
    return with_meta(head, thresholds=thresholds)


class RecordingScorer:
    """Implements the Scorer Protocol; records each call, answers the first label of each axis
    (or, for texts in ``fail_on``, that ticket's error)."""

    name, model, prompt, fingerprint, batches = "inner", "fake/inner", None, "inner-fp", True

    def __init__(self, fail_on: dict[str, GatewayError] | None = None) -> None:
        self.calls: list[tuple[list[str], list[str]]] = []
        self.fail_on = fail_on or {}

    async def score_many(
        self, texts: Sequence[str], rubric: RubricSet, axes: Sequence[str]
    ) -> list[ScoreOutcome]:
        self.calls.append((list(texts), list(axes)))
        out: list[ScoreOutcome] = []
        for text in texts:
            if text in self.fail_on:
                out.append(self.fail_on[text])
                continue
            answer = {}
            for axis in axes:
                names = rubric.axes[axis].names
                scores = {n: 1.0 if i == 0 else 0.0 for i, n in enumerate(names)}
                answer[axis] = AxisScores(raw=scores, scores=scores)
            out.append(ScoreResult(axes=answer, scorer=self.name, model=self.model))
        return out


# --------------------------------------------------------------------------- the head


def test_predict_proba_rows_are_distributions(head: TrainedHead, encoder: Encoder) -> None:
    probs = head.predict_proba(encoder.embed([SURE, UNSURE, "my parcel never arrived"]))
    assert probs.shape == (3, 7)
    assert np.allclose(probs.sum(axis=1), 1.0)
    assert (probs >= 0).all()
    assert head.meta.labels[int(probs[0].argmax())] == "billing"
    assert head.meta.labels[int(probs[2].argmax())] == "shipping"
    assert head.predict_proba(np.zeros((0, 384), dtype=np.float32)).shape == (0, 7)


def test_save_load_round_trip(head: TrainedHead, encoder: Encoder, tmp_path: Path) -> None:
    directory = tmp_path / "support" / "category" / "v1"
    head.save(directory)
    head.save(directory)  # an earlier attempt at the same version is replaced whole
    assert sorted(p.name for p in directory.iterdir()) == ["meta.json", "weights.npz"]
    assert [p.name for p in directory.parent.iterdir()] == ["v1"]  # no temporary folders left
    loaded = load_head(directory, encoder_sha256=encoder.sha256)
    assert loaded.meta == head.meta
    x = encoder.embed([SURE, UNSURE])
    assert np.array_equal(loaded.predict_proba(x), head.predict_proba(x))


def test_load_refuses_another_encoders_head(head: TrainedHead, tmp_path: Path) -> None:
    head.save(tmp_path / "v1")
    with pytest.raises(ModelFileError, match="trained on another encoder"):
        load_head(tmp_path / "v1", encoder_sha256="0" * 64)


def test_load_refuses_tampered_weights(head: TrainedHead, encoder: Encoder, tmp_path: Path) -> None:
    head.save(tmp_path / "v1")
    weights = tmp_path / "v1" / "weights.npz"
    np.savez(weights, coef=head.coef + 1e-3, intercept=head.intercept)
    with pytest.raises(ModelFileError, match=r"weights\.npz does not match the weights_sha256"):
        load_head(tmp_path / "v1", encoder_sha256=encoder.sha256)


def test_load_never_unpickles(head: TrainedHead, encoder: Encoder, tmp_path: Path) -> None:
    head.save(tmp_path / "v1")
    weights = tmp_path / "v1" / "weights.npz"
    evil = np.array([{"a": 1}], dtype=object)  # saved with pickle
    np.savez(weights, coef=evil, intercept=head.intercept)
    with pytest.raises(ModelFileError, match=r"weights\.npz is not a weights file"):
        load_head(tmp_path / "v1", encoder_sha256=encoder.sha256)


def test_malformed_or_missing_files_are_named(
    head: TrainedHead, encoder: Encoder, tmp_path: Path
) -> None:
    with pytest.raises(ModelFileError, match=r"missing/meta\.json cannot be read"):
        load_head(tmp_path / "missing", encoder_sha256=encoder.sha256)
    head.save(tmp_path / "v1")
    (tmp_path / "v1" / "weights.npz").write_bytes(b"not a zip")
    with pytest.raises(ModelFileError, match=r"v1/weights\.npz is not a weights file"):
        load_head(tmp_path / "v1", encoder_sha256=encoder.sha256)
    (tmp_path / "v1" / "meta.json").write_text('{"id": "head/x"}')
    with pytest.raises(ModelFileError, match=r"v1/meta\.json is not a valid head: rubric"):
        load_head(tmp_path / "v1", encoder_sha256=encoder.sha256)


def test_load_checks_shapes(head: TrainedHead, encoder: Encoder, tmp_path: Path) -> None:
    from gateway.scoring.head import weights_digest

    coef, intercept = head.coef[:6], head.intercept[:6]  # a label short
    bad = with_meta(head)
    object.__setattr__(bad, "coef", coef)
    object.__setattr__(bad, "intercept", intercept)
    meta = head.meta.model_copy(update={"weights_sha256": weights_digest(coef, intercept)})
    (tmp_path / "v1").mkdir()
    (tmp_path / "v1" / "meta.json").write_text(meta.model_dump_json())
    np.savez(tmp_path / "v1" / "weights.npz", coef=coef, intercept=intercept)
    with pytest.raises(ModelFileError, match=r"weights\.npz: coef has shape \(6, 384\)"):
        load_head(tmp_path / "v1", encoder_sha256=encoder.sha256)


# --------------------------------------------------------------------------- HeadScorer


async def test_head_scorer_answers_its_axis_with_its_thresholds(
    head: TrainedHead, encoder: Encoder, rubric: RubricSet
) -> None:
    scorer = HeadScorer(encoder, head)
    assert isinstance(scorer, Scorer)
    assert (scorer.name, scorer.model) == ("head", "head/support.category@v1")
    [result] = await scorer.score_many([SURE], rubric, ["category"])
    assert isinstance(result, ScoreResult)
    scores = result.axes["category"]
    assert list(scores.scores) == rubric.axes["category"].names
    assert sum(scores.scores.values()) == pytest.approx(1.0)
    assert max(scores.raw.values()) == 1.0  # relative to the top label
    assert result.thresholds == {"category": head.meta.thresholds}
    assert (result.scorer, result.model) == ("head", head.meta.id)


async def test_head_scorer_refuses_what_it_was_not_trained_for(
    head: TrainedHead, encoder: Encoder, rubric: RubricSet
) -> None:
    scorer = HeadScorer(encoder, head)
    edited = rubric.model_copy(update={"description": "edited"})
    with pytest.raises(InvalidRequestError, match="answers axis 'category'"):
        await scorer.score_many([SURE], edited, ["category"])
    with pytest.raises(ModelFileError, match="another encoder"):
        HeadScorer(encoder, with_meta(head, encoder_sha256="0" * 64))


def test_fingerprints_name_the_head(head: TrainedHead, encoder: Encoder) -> None:
    v2 = with_meta(head, id="head/support.category@v2", version=2)
    inner = RecordingScorer()
    one, two = (
        HeadCascade(HeadScorer(encoder, head), inner),
        HeadCascade(HeadScorer(encoder, v2), inner),
    )
    assert isinstance(one, Scorer)
    assert one.name == "head+inner"
    assert one.model == "head/support.category@v1+fake/inner"
    assert HeadScorer(encoder, head).fingerprint != HeadScorer(encoder, v2).fingerprint
    assert one.fingerprint != two.fingerprint
    assert one.batches is True


# --------------------------------------------------------------------------- HeadCascade


async def test_sure_tickets_are_the_heads_unsure_ones_go_inner_in_one_call(
    head: TrainedHead, encoder: Encoder, rubric: RubricSet
) -> None:
    gated = gate_between(head, encoder)
    inner = RecordingScorer()
    cascade = HeadCascade(HeadScorer(encoder, gated), inner)
    results = await cascade.score_many([SURE, UNSURE, SURE, UNSURE + "!"], rubric, ["category"])
    assert inner.calls == [([UNSURE, UNSURE + "!"], ["category"])]
    assert [r.scorer for r in results if isinstance(r, ScoreResult)] == [
        "head",
        "inner",
        "head",
        "inner",
    ]
    sure = results[0]
    assert isinstance(sure, ScoreResult)
    assert sure.thresholds == {"category": gated.meta.thresholds}
    assert max(sure.axes["category"].scores, key=sure.axes["category"].scores.__getitem__) == (
        "billing"
    )
    assert cascade.stats.tickets == 4
    assert cascade.stats.answered_by_head == 2


async def test_all_sure_never_calls_inner(
    head: TrainedHead, encoder: Encoder, rubric: RubricSet
) -> None:
    inner = RecordingScorer()
    cascade = HeadCascade(HeadScorer(encoder, gate_between(head, encoder)), inner)
    results = await cascade.score_many([SURE], rubric, ["category"])
    assert inner.calls == []
    assert [r.scorer for r in results if isinstance(r, ScoreResult)] == ["head"]


async def test_other_axes_come_from_inner_for_every_ticket(
    head: TrainedHead, encoder: Encoder, rubric: RubricSet
) -> None:
    axes = ["category", "priority", "subcategory", "sentiment"]
    assert list(rubric.axes) == axes  # support.yaml's axes
    gated = gate_between(head, encoder)
    failing = "please refund my invoice, I was charged twice for the subscription"
    inner = RecordingScorer(fail_on={failing: ProviderError("down")})
    cascade = HeadCascade(HeadScorer(encoder, gated), inner)
    assert gated.predict_proba(encoder.embed([failing])).max() >= gated.meta.thresholds.auto_route
    results = await cascade.score_many([SURE, UNSURE, failing], rubric, [])
    assert inner.calls == [([SURE, UNSURE, failing], axes)]
    sure, unsure, failed = results
    assert isinstance(sure, ScoreResult) and isinstance(unsure, ScoreResult)
    assert list(sure.axes) == axes
    assert sure.scorer == "head"
    assert sure.axes["priority"].scores["critical"] == 1.0  # from inner
    assert sure.axes["category"].scores["billing"] > 0.3  # from the head
    assert sure.thresholds == {"category": gated.meta.thresholds}
    assert unsure.scorer == "inner"
    assert unsure.thresholds == {}
    assert isinstance(failed, ProviderError)  # a slot is complete or that ticket's error
    # asked for the other axis only, the head has nothing to say
    await cascade.score_many([SURE], rubric, ["priority"])
    assert inner.calls[-1] == ([SURE], ["priority"])


async def test_an_edited_rubric_goes_to_inner_whole(
    head: TrainedHead, encoder: Encoder, rubric: RubricSet
) -> None:
    inner = RecordingScorer()
    cascade = HeadCascade(HeadScorer(encoder, gate_between(head, encoder)), inner)
    edited = rubric.model_copy(update={"description": "edited since training"})
    results = await cascade.score_many([SURE, UNSURE], edited, ["category"])
    assert inner.calls == [([SURE, UNSURE], ["category"])]
    assert all(isinstance(r, ScoreResult) and r.scorer == "inner" for r in results)


def test_train_options_reach_the_head(encoder: Encoder, rubric: RubricSet) -> None:
    examples = [TrainingExample(text=t, label=label) for t, label in tickets(4)]
    trained, _ = train_head(
        examples, rubric, "category", encoder, version=3, options=TrainOptions(C=2.0)
    )
    assert trained.meta.C == 2.0
    assert trained.meta.id == "head/support.category@v3"
