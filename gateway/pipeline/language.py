"""A ticket's language against its rubric set's policy (``gateway.rubrics.languages``): who
answers a ticket in a language the set was not written for, and what its decision becomes.

One place, so every caller of the ``Classifier`` (the server, ``rubric classify``, the eval
harness) routes a German ticket the same way. The reason always names the language and how sure
the detector was; never the text.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

from gateway.redaction import PerLanguageRedactor, Redactor
from gateway.rubrics import ENGLISH_ONLY_DEFAULT, LanguagePolicy
from gateway.schemas import AxisResult, Decision, DetectedLanguage
from gateway.scoring import CascadeScorer, LocalScorer, Scorer, ScorerVariants, unmixed


def other_language_reader(variants: ScorerVariants) -> tuple[Scorer | None, bool]:
    """The served scorer that reads languages other than English, and whether that is the
    served scorer itself. The embedded model reads English only; a cascade's second scorer (the
    LLM) reads them all, as do the provider scorers, without the embedded model's answer mixed
    in (``scoring.blend``)."""
    served = variants.served
    if isinstance(served, LocalScorer):
        return None, False
    if isinstance(served, CascadeScorer):
        return variants.wrap(served.second), False
    alone = unmixed(served)
    if alone is not None:
        return variants.wrap(alone), False
    return variants.base, True


def redactor_for(redactor: Redactor, outcome: LanguageOutcome) -> Redactor:
    """The redactor for a ticket's language (``redaction.language``); any other redactor (the
    pass-through, a test's) redacts every language alike."""
    if not isinstance(redactor, PerLanguageRedactor) or outcome.language is None:
        return redactor
    return redactor.for_language(outcome.language.code, outcome.language.confidence)


class LanguageOutcome(BaseModel):
    """What a ticket's language changes: nothing (``action`` None), or the route, review or
    LLM scorer of the policy, with the reason to give."""

    model_config = ConfigDict(frozen=True)

    language: DetectedLanguage | None = None
    action: Literal["route", "review", "llm"] | None = None
    route: str | None = None
    reason: str | None = None

    def decided(
        self, decision: Decision, reason: str, route: str | None, *, rule_routed: bool
    ) -> tuple[Decision, str, str | None]:
        """The ticket's decision, reason and route after the policy. A rule's escalation and
        route stand (they are about the ticket, whatever its language)."""
        if self.action is None or self.reason is None:
            return decision, reason, route
        if self.action == "llm":
            return decision, f"{reason}; {self.reason}", route
        if decision == "escalate":
            decision_reason = f"{reason}; {self.reason}"
        else:
            decision = "auto_route" if self.action == "route" else "review"
            decision_reason = f"{self.reason}; the scores are the embedded model's: {reason}"
        if self.action == "route" and not rule_routed:
            route = self.route
        return decision, decision_reason, route

    def axis(self, result: AxisResult) -> AxisResult:
        """An axis answered by a scorer that does not read the language is never auto-routed."""
        if self.action not in ("route", "review") or result.decision != "auto_route":
            return result
        return result.model_copy(
            update={"decision": "review", "reason": f"{self.reason}; {result.reason}"}
        )


def language_outcome(
    policy: LanguagePolicy | None,
    detected: DetectedLanguage | None,
    *,
    reader: Scorer | None,
    reads_natively: bool,
) -> LanguageOutcome:
    """The outcome for a ticket in ``detected`` under the set's ``policy``. ``reader`` is the
    scorer that reads other languages (None: none is configured); ``reads_natively``: the
    ticket's own scorer already does (an LLM scorer, a request's model override)."""
    if detected is None:
        return LanguageOutcome()
    if policy is None:
        if reads_natively:
            return LanguageOutcome(language=detected)
        policy = ENGLISH_ONLY_DEFAULT
    if not policy.unsupported(detected.code, detected.confidence):
        return LanguageOutcome(language=detected)
    why = (
        f"language {detected.code} ({detected.confidence:.2f}) is not one the rubric set was "
        f"written for ({', '.join(policy.supported)})"
    )
    other = policy.other
    if policy is ENGLISH_ONLY_DEFAULT and reader is not None:
        return LanguageOutcome(language=detected, action="llm", reason=f"{why}: LLM answered")
    if policy is ENGLISH_ONLY_DEFAULT:
        why += "; the embedded model reads English only and the set has no 'languages' policy"
    if other.action == "route":
        return LanguageOutcome(
            language=detected,
            action="route",
            route=other.route,
            reason=f"{why}: routes to {other.route}",
        )
    if other.action == "llm":
        if reads_natively or reader is not None:
            return LanguageOutcome(language=detected, action="llm", reason=f"{why}: LLM answered")
        why += "; the set asks for the LLM scorer and this deployment has none"
    return LanguageOutcome(language=detected, action="review", reason=f"{why}: sent to review")
