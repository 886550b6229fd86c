"""A ticket in a language its rubric set was not written for, through the classifier: the
bundled ``support`` set routes German, French and Spanish tickets to ``intl-team`` (the real
pipeline: detector, Presidio, embedded model), and each policy action does what it says."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest
from support.settings import make_settings

from gateway.config import PROJECT_ROOT
from gateway.language import FastTextDetector
from gateway.pipeline import Classifier, build_classifier
from gateway.redaction import PassThroughRedactor, SpacyModel
from gateway.rubrics import RubricSet, RubricStore
from gateway.schemas import ClassifyRequest
from gateway.scoring import (
    AxisScores,
    BlendScorer,
    CascadeScorer,
    LocalFallbackScorer,
    LocalScorer,
    ScoreOutcome,
    Scorer,
    ScoreResult,
)

GERMAN = "Guten Tag, mir wurde die Rechnung für März doppelt abgebucht. Mit freundlichen Grüßen"
FRENCH = "Bonjour, on m'a facturé deux fois l'abonnement ce mois-ci. Pouvez-vous me rembourser ?"
SPANISH = "Hola, me han cobrado dos veces la suscripción este mes. ¿Me pueden devolver el dinero?"
ENGLISH = "Hello, I was charged twice for my subscription this month. Please refund one."


@pytest.fixture(scope="module")
def detector() -> FastTextDetector:
    return FastTextDetector()


@pytest.fixture(scope="module")
def support(
    local_scorer: LocalScorer,
    spacy_model: SpacyModel,
    detector: FastTextDetector,
    tmp_path_factory: pytest.TempPathFactory,
) -> Classifier:
    settings = make_settings(
        cache={"enabled": False},
        rubrics={"dir": PROJECT_ROOT / "rubrics"},
        store={"data_dir": tmp_path_factory.mktemp("data")},
    )
    return build_classifier(settings, local=local_scorer, nlp=spacy_model, language=detector)


@pytest.mark.parametrize(("text", "code"), [(GERMAN, "de"), (FRENCH, "fr"), (SPANISH, "es")])
async def test_bundled_support_routes_other_languages_to_intl_team(
    support: Classifier, text: str, code: str
) -> None:
    resp = await support.classify(ClassifyRequest(text=text, rubric="support"))
    assert resp.language is not None
    assert resp.language.code == code and resp.language.confidence >= 0.9
    assert (resp.decision, resp.route) == ("auto_route", "intl-team")
    assert resp.reason.startswith(f"language {code} (")
    assert "not one the rubric set was written for (en): routes to intl-team" in resp.reason
    # no axis is auto-routed on an English model's reading of it
    assert all(axis.decision != "auto_route" for axis in resp.axes.values())
    assert text[:20] not in resp.reason


async def test_an_english_ticket_is_routed_by_its_label(support: Classifier) -> None:
    resp = await support.classify(ClassifyRequest(text=ENGLISH, rubric="support"))
    assert resp.language is not None and resp.language.code == "en"
    assert (resp.top_label, resp.route) == ("billing", "billing-team")
    assert "language" not in resp.reason


async def test_an_escalating_rule_wins_over_the_language_route(support: Classifier) -> None:
    text = "Sehr geehrte Damen und Herren, unser Anwalt wird Sie verklagen. lawsuit"
    resp = await support.classify(ClassifyRequest(text=text, rubric="support"))
    assert resp.language is not None and resp.language.code == "de"
    assert resp.decision == "escalate"
    assert "routes to intl-team" in resp.reason


# --------------------------------------------------------------------------- each action


class Sure:
    """A fake scorer: the first label, surely, on every axis; records what it was given."""

    prompt, batches, fingerprint = None, False, "fake"

    def __init__(self, name: str) -> None:
        self.name = self.model = name
        self.texts: list[str] = []

    async def score_many(
        self, texts: Sequence[str], rubric: RubricSet, axes: Sequence[str]
    ) -> list[ScoreOutcome]:
        self.texts += texts

        def sure(axis: str) -> AxisScores:
            names = rubric.axes[axis].names
            scores = {n: 0.97 if i == 0 else 0.03 / (len(names) - 1) for i, n in enumerate(names)}
            return AxisScores(raw=dict(scores), scores=scores)

        result = ScoreResult(axes={a: sure(a) for a in axes}, scorer=self.name, model=self.model)
        return [result for _ in texts]


def _rubric(languages: str | None) -> str:
    policy = f"languages:\n  supported: [en, fr]\n  other: {languages}\n" if languages else ""
    return (
        "name: demo\naxes:\n  category:\n    labels:\n"
        "      - {name: billing, rubric: Is it about a charge, route: billing-team}\n"
        "      - {name: technical, rubric: Is it a bug, route: engineering}\n" + policy
    )


def _classifier(
    tmp_path: Path, detector: FastTextDetector, languages: str | None, scorer: object
) -> Classifier:
    (tmp_path / "demo.yaml").write_text(_rubric(languages))
    return build_classifier(
        make_settings(rubrics={"dir": tmp_path}, cache={"enabled": False}),
        rubrics=RubricStore(tmp_path),
        redactor=PassThroughRedactor(),
        scorer=scorer,  # type: ignore[arg-type]  # a fake of the Scorer protocol
        language=detector,
    )


async def test_review_sends_it_to_a_person(tmp_path: Path, detector: FastTextDetector) -> None:
    classifier = _classifier(tmp_path, detector, "review", Sure("llm"))
    resp = await classifier.classify(ClassifyRequest(text=GERMAN, rubric="demo"))
    assert resp.decision == "review" and resp.route == "billing-team"
    assert "(en, fr): sent to review" in resp.reason
    # a supported language is answered as usual
    french = await classifier.classify(ClassifyRequest(text=FRENCH, rubric="demo"))
    assert french.language is not None and french.language.code == "fr"
    assert french.decision == "auto_route" and "language" not in french.reason


async def test_llm_asks_a_cascades_llm_directly(tmp_path: Path, detector: FastTextDetector) -> None:
    local, llm = Sure("local"), Sure("llm")
    cascade = CascadeScorer(local, llm)
    classifier = _classifier(tmp_path, detector, "{scorer: llm}", cascade)
    resp = await classifier.classify(ClassifyRequest(text=SPANISH, rubric="demo"))
    assert (llm.texts, local.texts) == ([SPANISH], [])  # the embedded model never saw it
    assert resp.scorer == "llm" and resp.decision == "auto_route"
    assert resp.reason.endswith(": LLM answered")
    english = await classifier.classify(ClassifyRequest(text=ENGLISH, rubric="demo"))
    assert english.scorer == "local" and local.texts == [ENGLISH]  # the cascade as usual


async def test_llm_without_one_goes_to_review_and_says_why(
    tmp_path: Path, detector: FastTextDetector, local_scorer: LocalScorer
) -> None:
    classifier = _classifier(tmp_path, detector, "{scorer: llm}", local_scorer)
    resp = await classifier.classify(ClassifyRequest(text=GERMAN, rubric="demo"))
    assert resp.decision == "review"
    assert "asks for the LLM scorer and this deployment has none: sent to review" in resp.reason


async def test_without_a_policy_the_embedded_model_does_not_answer_silently(
    tmp_path: Path, detector: FastTextDetector, local_scorer: LocalScorer
) -> None:
    classifier = _classifier(tmp_path, detector, None, local_scorer)
    resp = await classifier.classify(ClassifyRequest(text=GERMAN, rubric="demo"))
    assert resp.decision == "review"
    assert "the embedded model reads English only" in resp.reason
    assert resp.language is not None and resp.language.code == "de"


async def test_without_a_policy_an_llm_scorer_answers_as_before(
    tmp_path: Path, detector: FastTextDetector
) -> None:
    llm = Sure("llm")
    classifier = _classifier(tmp_path, detector, None, llm)
    resp = await classifier.classify(ClassifyRequest(text=GERMAN, rubric="demo"))
    assert (resp.decision, resp.route, llm.texts) == ("auto_route", "billing-team", [GERMAN])
    assert resp.language is not None and "language" not in resp.reason


@pytest.mark.parametrize("fallback", [False, True])
async def test_a_mixed_llm_answers_another_language_alone(
    tmp_path: Path, detector: FastTextDetector, fallback: bool
) -> None:
    """With the embedded model mixed into the LLM's answers (GATEWAY_LLM_LOCAL_WEIGHT), a ticket
    the embedded model cannot read is the LLM's alone, saying so; English ones are mixed."""
    local, llm = Sure("local"), Sure("llm")
    served: Scorer = BlendScorer(llm, local, 0.5)
    if fallback:
        served = LocalFallbackScorer(served, local)
    classifier = _classifier(tmp_path, detector, None, served)
    resp = await classifier.classify(ClassifyRequest(text=GERMAN, rubric="demo"))
    assert (llm.texts, local.texts) == ([GERMAN], [])  # the embedded model never saw it
    assert (resp.scorer, resp.local_weight, resp.decision) == ("llm", None, "auto_route")
    assert resp.reason.endswith(": LLM answered")
    english = await classifier.classify(ClassifyRequest(text=ENGLISH, rubric="demo"))
    assert (english.local_weight, local.texts) == (0.5, [ENGLISH])
    assert "language" not in english.reason
