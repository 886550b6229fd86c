"""From a distribution and the rules that fired to a routing decision with its reason: one
place, used by the server (``Classifier``) and by the eval harness when it re-decides offline."""

from __future__ import annotations

from collections.abc import Sequence

from gateway.config import Floors
from gateway.rubrics import Thresholds
from gateway.schemas import AxisResult, Decision, Evidence, Flag
from gateway.scoring import AxisScores, entropy, margin, top_label

FALLBACK_REASON = "provider unavailable, embedded model answered"


def _r(x: float) -> float:
    return round(x, 4)


def cite(flag: Flag) -> str:
    """A rule as a reason names it: its name and what held, with the text match's position
    (``legal_threat (text at 31-37)``, ``repeat_contact (metadata.contact_count)``); never the
    matched text or a metadata value."""
    held = [
        f"text at {flag.span[0]}-{flag.span[1]}" if on == "text" and flag.span else on
        for on in flag.matched_on
    ]
    return f"{flag.rule} ({', '.join(held)})" if held else flag.rule


def ticket_route(label_route: str | None, flags: Sequence[Flag]) -> tuple[str | None, str | None]:
    """The ticket's route and, when a rule set it, the reason to add: the first fired rule
    with a ``route`` wins over the top label's own."""
    setting = next((f for f in flags if f.route is not None), None)
    if setting is None:
        return label_route, None
    return setting.route, f"rule {setting.rule} routes to {setting.route}"


def decide_axis(
    axis: str,
    scored: AxisScores,
    thresholds: Thresholds,
    floors: Floors,
    flags: Sequence[Flag] = (),
    *,
    fallback: bool = False,
    fit: float | None = None,
) -> AxisResult:
    """One axis' result. An axis the embedded model answered during a provider outage
    (``fallback``) is marked so and never auto-routed, whatever its scores or rules say: every
    axis of such an answer is routed as a fallback, not only the primary one.

    No label fits when ``fit``, the none_fits signal a calibration scored the axis with
    (``Calibration.fit_score``), is under the none_fits floor and no raw score reaches
    multi_fit; without one, when every raw score is under the floor. Either way no axis is
    both none_fits and multi_fit."""
    scores = scored.scores
    raw = scored.raw
    top = top_label(scores)
    confidence = scores[top]
    passing = [name for name, value in raw.items() if value >= floors.multi_fit]
    if fit is None:
        none_fits = all(value < floors.none_fits for value in raw.values())
        unfit = f"every raw score < {floors.none_fits:.2f}"
    else:
        # a label at multi_fit matches as well as a typical right answer: it fits, whatever
        # its traffic (rare: the fit score lifts a label that sits over its traffic's mean)
        none_fits = fit < floors.none_fits and not passing
        unfit = f"fit score {fit:.2f} < {floors.none_fits:.2f}"
    multi_fit = len(passing) >= 2
    labels = sorted(passing, key=lambda n: raw[n], reverse=True)

    decision: Decision
    forced = next((f for f in flags if axis in f.forced), None)
    if forced is not None:
        top = forced.forced[axis]
        # a deterministic rule is certain about what it forces; its action says where it goes
        forced_decisions: dict[str, Decision] = {
            "escalate": "escalate",
            "review": "review",
            "flag": "auto_route",
        }
        decision = forced_decisions[forced.action]
        verb = "raises" if axis in forced.raised else "forces"
        reason = f"rule {cite(forced)} {verb} {axis}={top}"
    elif none_fits:
        decision = "manual"
        reason = f"no label fits: {unfit}"
    elif confidence >= thresholds.auto_route and not multi_fit:
        decision = "auto_route"
        reason = f"top score {confidence:.2f} ≥ auto_route {thresholds.auto_route:.2f}"
    elif confidence >= thresholds.review:
        decision = "review"
        reason = f"top score {confidence:.2f} ≥ review {thresholds.review:.2f}"
        if multi_fit:
            reason += f"; several labels fit ({', '.join(labels)})"
    else:
        decision = "manual"
        reason = f"top score {confidence:.2f} < review {thresholds.review:.2f}"
    if fallback and decision == "auto_route":
        decision, reason = "review", f"{FALLBACK_REASON}; {reason}"

    return AxisResult(
        top_label=top,
        scores={k: _r(v) for k, v in scores.items()},
        raw={k: _r(v) for k, v in raw.items()},
        confidence=_r(scores[top]),
        margin=_r(margin(scores)),
        entropy=_r(entropy(scores)),
        decision=decision,
        reason=reason,
        labels=labels,
        none_fits=none_fits,
        multi_fit=multi_fit,
        forced_by=forced.rule if forced is not None else None,
        fallback=fallback,
        evidence=_evidence(top, scored, forced),
    )


def _evidence(top: str, scored: AxisScores, forced: Flag | None) -> Evidence | None:
    """The rule that forced the answer, else the scorer's evidence where it backs the answer
    given (a calibration or a rule may have moved the top label off what it matched)."""
    if forced is not None:
        return Evidence(source="rule", label=top, rule=forced.rule, span=forced.span)
    if scored.evidence is not None and scored.evidence.label == top:
        return scored.evidence
    return None


def decide_ticket(
    primary: AxisResult, flags: Sequence[Flag], *, fallback: bool = False
) -> tuple[Decision, str]:
    """The ticket's decision from its primary axis: a rule's escalate/review wins over the
    axis' own, and an answer the embedded model gave during a provider outage (``fallback``) is
    never auto-routed. The server and the eval harness both decide through here."""
    escalating = [cite(f) for f in flags if f.action == "escalate"]
    if escalating:
        return "escalate", f"rule {', '.join(escalating)} escalates"
    decision, reason = primary.decision, primary.reason
    reviewing = [cite(f) for f in flags if f.action == "review"]
    if reviewing and decision == "auto_route":
        decision, reason = "review", f"rule {', '.join(reviewing)} asks for review; {reason}"
    if fallback and decision == "auto_route":
        decision, reason = "review", f"{FALLBACK_REASON}; {reason}"
    return decision, reason
