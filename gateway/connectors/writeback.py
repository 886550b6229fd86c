"""What we write back to a ticket, by mode, and when a ticket escalates to Slack.

``draft`` (default): an internal note ("Suggested: billing (0.91), review: low margin") and a
``<prefix>suggested_<label>`` tag; the agent confirms. ``auto``: for an ``auto_route`` ticket,
the category field (or ``<prefix><label>`` tag), the group of the label's route and the
priority; every other ticket gets the draft. ``off``: nothing. A note holds labels, scores and
the decision's reason (which never quotes the ticket), nothing from the ticket itself.
"""

from __future__ import annotations

from gateway.connectors.base import label_tag, suggested_tag
from gateway.connectors.models import Connection, WritePlan
from gateway.rubrics import RubricSet
from gateway.schemas import ClassifyResponse


def _priority(conn: Connection, resp: ClassifyResponse) -> tuple[str, float] | None:
    axis = resp.axes.get(conn.priority_axis)
    return (axis.top_label, axis.confidence) if axis is not None else None


def note_text(resp: ClassifyResponse) -> str:
    parts = [f"Suggested: {resp.top_label} ({resp.confidence:.2f}), {resp.decision}: {resp.reason}"]
    for name, axis in resp.axes.items():
        parts.append(f"{name}: {axis.top_label} ({axis.confidence:.2f})")
    if resp.flags:
        parts.append("rules: " + ", ".join(flag.rule for flag in resp.flags))
    return "; ".join(parts)


def plan_writeback(conn: Connection, resp: ClassifyResponse, rubric: RubricSet | None) -> WritePlan:
    if conn.mode == "off":
        return WritePlan()
    if conn.mode == "auto" and resp.decision == "auto_route":
        route = resp.route
        if route is None and rubric is not None and resp.axis in rubric.axes:
            label = next(
                (x for x in rubric.axes[resp.axis].labels if x.name == resp.top_label), None
            )
            route = label.route if label is not None else None
        priority = _priority(conn, resp)
        return WritePlan(
            tags=[] if conn.category_field else [label_tag(conn.tag_prefix, resp.top_label)],
            category=resp.top_label if conn.category_field else None,
            group=conn.groups.get(route) if route else None,
            priority=conn.priorities.get(priority[0]) if priority else None,
        )
    return WritePlan(note=note_text(resp), tags=[suggested_tag(conn.tag_prefix, resp.top_label)])


def escalation(conn: Connection, resp: ClassifyResponse) -> str | None:
    """Why a ticket escalates (a rule's ``escalate``, or the connection's axis condition)."""
    rules = [flag.rule for flag in resp.flags if flag.action == "escalate"]
    if rules:
        return "rule " + ", ".join(rules)
    if resp.decision == "escalate":
        return resp.reason
    answers = {resp.axis: resp.top_label, **{n: a.top_label for n, a in resp.axes.items()}}
    for axis, labels in conn.escalate_when.items():
        if answers.get(axis) in labels:
            return f"{axis} {answers[axis]}"
    return None
