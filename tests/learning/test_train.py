"""train_head on the real encoder: cross-validated report, fitted thresholds, refusals."""

from __future__ import annotations

import numpy as np
import pytest
from support.rubrics import rubric_of
from support.tickets import LABELS, tickets

from gateway.config import PROJECT_ROOT
from gateway.errors import LabelsInvalidError, NotEnoughLabelsError
from gateway.evals import wilson_lower
from gateway.learning.train import (
    MIN_SUPPORT,
    TrainingExample,
    TrainOptions,
    fit_head_weights,
    fitted_thresholds,
    train_head,
    weak_examples,
)
from gateway.rubrics import RubricSet, load_rubric_file
from gateway.scoring import Encoder, LocalScorer


@pytest.fixture(scope="module")
def encoder(local_scorer: LocalScorer) -> Encoder:
    return local_scorer.encoder


@pytest.fixture(scope="module")
def rubric() -> RubricSet:
    return load_rubric_file(PROJECT_ROOT / "rubrics" / "support.yaml")


def examples(per_label: int, offset: int = 0) -> list[TrainingExample]:
    return [TrainingExample(text=t, label=label) for t, label in tickets(per_label, offset)]


def test_trains_a_head_that_cross_validates_well(encoder: Encoder, rubric: RubricSet) -> None:
    data = [*examples(10), TrainingExample(text="what is this", label="retired_label")]
    head, report = train_head(data, rubric, "category", encoder, version=2)
    assert report.cv_accuracy >= 0.9
    assert report.cv_macro_f1 >= 0.9
    assert report.labels_used == 70
    assert report.per_label == dict.fromkeys(LABELS, 10)
    assert report.weak_labels_used == len(weak_examples(rubric, "category")) > 14
    assert report.dropped == {"retired_label": 1}
    assert report.folds == 5
    assert head.meta.id == "head/support.category@v2"
    assert head.meta.labels == rubric.axes["category"].names
    assert head.meta.fingerprint == rubric.fingerprint
    assert head.meta.encoder_sha256 == encoder.sha256
    assert head.meta.thresholds == report.thresholds
    assert 0 < report.thresholds.review <= report.thresholds.auto_route < 1.0
    # held-out tickets of the same templates: the head generalises beyond its training rows
    held_out = tickets(5, offset=10)
    probs = head.predict_proba(encoder.embed([t for t, _ in held_out]))
    predicted = [head.meta.labels[i] for i in probs.argmax(axis=1)]
    assert np.mean([p == gold for p, (_, gold) in zip(predicted, held_out, strict=True)]) >= 0.9


def test_refuses_naming_the_labels_that_are_short(encoder: Encoder, rubric: RubricSet) -> None:
    data = [e for e in examples(4) if e.label not in ("sales", "feedback")]
    data.append(next(e for e in examples(4) if e.label == "sales"))  # sales: 1, feedback: 0
    with pytest.raises(NotEnoughLabelsError) as caught:
        train_head(
            data, rubric, "category", encoder, version=1, options=TrainOptions(weak_labels=False)
        )
    message = caught.value.message
    assert "sales (1 + 0 weak)" in message
    assert "feedback (0 + 0 weak)" in message
    assert "billing" not in message
    assert "2 label(s) have fewer than 2 examples" in message


def test_weak_labels_let_a_label_without_human_labels_be_said(
    encoder: Encoder, rubric: RubricSet
) -> None:
    data = [e for e in examples(6) if e.label != "feedback"]
    head, report = train_head(data, rubric, "category", encoder, version=1)
    assert report.per_label["feedback"] == 0
    probs = head.predict_proba(encoder.embed(["Your support team was great, thank you so much"]))
    assert head.meta.labels[int(probs.argmax())] == "feedback"


def test_refuses_without_labels_and_an_unknown_axis(encoder: Encoder, rubric: RubricSet) -> None:
    with pytest.raises(NotEnoughLabelsError, match="0 labelled ticket"):
        train_head([], rubric, "category", encoder, version=1)
    with pytest.raises(LabelsInvalidError, match="unknown axis"):
        train_head(examples(2), rubric, "urgency_level", encoder, version=1)


def test_two_label_head(encoder: Encoder) -> None:
    two = rubric_of({"category": {"billing": "Is it about a charge?", "technical": "A bug?"}})
    data = [e for e in examples(10) if e.label in ("billing", "technical")]
    head, report = train_head(data, two, "category", encoder, version=1)
    assert head.coef.shape == (2, 384)
    assert report.cv_accuracy >= 0.9
    probs = head.predict_proba(
        encoder.embed(["refund the double charge on my card", "the app crashes with error 500"])
    )
    assert np.allclose(probs.sum(axis=1), 1.0)
    assert [head.meta.labels[i] for i in probs.argmax(axis=1)] == ["billing", "technical"]


def test_one_example_per_label_still_trains_with_weak_labels(
    encoder: Encoder, rubric: RubricSet
) -> None:
    head, report = train_head(examples(1), rubric, "category", encoder, version=1)
    assert report.folds == 2
    assert report.labels_used == 7
    assert head.predict_proba(encoder.embed(["hi"])).shape == (1, 7)


def test_auto_route_is_the_lowest_threshold_that_keeps_precision() -> None:
    options = TrainOptions(target_precision=0.9, review_precision=0.5, precision_z=0.0)
    conf = np.linspace(0.99, 0.10, 40)
    correct = np.r_[np.ones(20, bool), np.zeros(1, bool), np.ones(4, bool), np.zeros(15, bool)]
    thresholds = fitted_thresholds(conf, correct, options)
    # the lowest confidence down to which the running precision is still ≥ 0.9
    top = np.argsort(-conf)
    running = np.cumsum(correct[top]) / np.arange(1, 41)
    lowest_ok = conf[top][np.nonzero(running >= 0.9)[0].max()]
    assert thresholds.auto_route == pytest.approx(lowest_ok)
    assert thresholds.review <= thresholds.auto_route


def test_auto_route_rests_on_the_lower_bound_of_precision_by_default() -> None:
    # 200 out-of-fold answers: the first 100 all right, then one wrong in each 10
    conf = np.linspace(0.99, 0.2, 200)
    correct = np.ones(200, bool)
    correct[109::10] = False
    point = fitted_thresholds(conf, correct, TrainOptions(precision_z=0.0))
    bound = fitted_thresholds(conf, correct, TrainOptions())
    # the point estimate takes every ticket (190/200 = 95%); the bound stops at the lowest cut
    # where the one-sided 95% Wilson bound of the precision still reaches 95%
    assert point.auto_route == pytest.approx(0.2)
    cuts = np.arange(1, 201)
    lower = wilson_lower(np.cumsum(correct), cuts, 1.645)
    last = int(np.nonzero((lower >= 0.95) & (cuts >= MIN_SUPPORT))[0].max())
    assert 100 <= last < 150
    assert bound.auto_route == pytest.approx(conf[last])
    # 40 answers, all right, cannot back 95%: 40/40 has a lower bound of 0.94
    few = fitted_thresholds(np.full(40, 0.9), np.ones(40, bool), TrainOptions())
    assert few.auto_route == 1.0


def test_auto_route_is_never_when_precision_is_unreachable_or_unsupported() -> None:
    options = TrainOptions(target_precision=0.95)
    wrong = fitted_thresholds(np.full(50, 0.9), np.zeros(50, bool), options)
    assert (wrong.auto_route, wrong.review) == (1.0, 1.0)
    few = MIN_SUPPORT - 1
    thin = fitted_thresholds(np.full(few, 0.9), np.ones(few, bool), options)
    assert thin.auto_route == 1.0


def test_self_training_moves_the_boundary_toward_the_tickets_it_is_sure_of() -> None:
    # one labelled point a side of 0 on the first axis; many waiting tickets just right of 0
    # that the first fit calls label 1: refitted with them, the boundary moves left of them
    x = np.array([[-1.0, 1.0], [1.0, 1.0]] * 3)
    y = np.array([0, 1] * 3, dtype=np.int64)
    w = np.ones(len(y))
    waiting = np.c_[np.linspace(0.1, 0.6, 40), np.ones(40)]
    probe = np.array([[0.02, 1.0]])
    on = TrainOptions(self_train=True, pseudo_threshold=0.5)

    def p1(coef: np.ndarray, intercept: np.ndarray) -> float:
        logits = probe @ coef.T + intercept
        return float(np.exp(logits[0, 1]) / np.exp(logits[0]).sum())

    plain = fit_head_weights(x, y, w, 2, TrainOptions(), unlabelled=waiting)
    off = fit_head_weights(x, y, w, 2, on, unlabelled=None)
    trained = fit_head_weights(x, y, w, 2, on, unlabelled=waiting)
    assert np.allclose(plain[0], off[0])  # without waiting rows, or without the option: as before
    assert p1(*trained) > p1(*plain) + 0.05
    # nothing the first fit is sure enough of: no pseudo rows, the plain fit
    unsure = fit_head_weights(
        x, y, w, 2, on.model_copy(update={"pseudo_threshold": 1.0}), unlabelled=waiting
    )
    assert np.allclose(unsure[0], plain[0])


def test_a_warm_started_refit_reaches_the_cold_refits_optimum() -> None:
    # three noisy classes in 8 dimensions and waiting rows around them: the refit that starts
    # from the first fit's solution ends where a fresh one does (a convex problem), and both
    # differ from the first fit (the pseudo rows were fitted on)
    rng = np.random.default_rng(3)
    centres = rng.normal(size=(3, 8)) * 2
    y = np.repeat(np.arange(3, dtype=np.int64), 20)
    x = centres[y] + rng.normal(size=(60, 8))
    waiting = centres[rng.integers(0, 3, 300)] + rng.normal(size=(300, 8))
    on = TrainOptions(self_train=True)
    w = np.ones(len(y))
    cold = fit_head_weights(x, y, w, 3, on, unlabelled=waiting, tol=1e-8)
    warm = fit_head_weights(x, y, w, 3, on, unlabelled=waiting, tol=1e-8, warm_start=True)
    first = fit_head_weights(x, y, w, 3, TrainOptions(), tol=1e-8)
    assert np.allclose(warm[0], cold[0], atol=1e-3) and np.allclose(warm[1], cold[1], atol=1e-3)
    assert not np.allclose(warm[0], first[0], atol=1e-2)


def test_self_training_on_waiting_texts_keeps_the_report_on_human_labels(
    encoder: Encoder, rubric: RubricSet
) -> None:
    waiting = [t for t, _ in tickets(4, offset=3)]
    options = TrainOptions(self_train=True, self_train_from=3)
    head, report = train_head(
        examples(3), rubric, "category", encoder, version=1, options=options, unlabelled=waiting
    )
    plain, _ = train_head(examples(3), rubric, "category", encoder, version=1)
    assert report.labels_used == 21 and report.per_label == dict.fromkeys(LABELS, 3)
    assert report.self_trained
    assert not np.allclose(head.coef, plain.coef)  # the waiting tickets were fitted on
    # under self_train_from labels a label (the default 8), the waiting tickets are left out
    few, few_report = train_head(
        examples(3),
        rubric,
        "category",
        encoder,
        version=1,
        options=TrainOptions(self_train=True),
        unlabelled=waiting,
    )
    assert not few_report.self_trained
    assert np.allclose(few.coef, plain.coef)
    held_out = tickets(5, offset=10)
    probs = head.predict_proba(encoder.embed([t for t, _ in held_out]))
    predicted = [head.meta.labels[i] for i in probs.argmax(axis=1)]
    assert np.mean([p == gold for p, (_, gold) in zip(predicted, held_out, strict=True)]) >= 0.8
