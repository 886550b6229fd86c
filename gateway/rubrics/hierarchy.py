"""Hierarchical axes: a child axis (``parent: category``) whose labels each name a label of the
parent axis (``parent: billing``). It is answered only among the children of the label the
parent axis chose (gateway/pipeline/hierarchy.py); here, the tree's checks, each reported at
its own line by ``rubric check``."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from gateway.rubrics.fields import Loc
    from gateway.rubrics.model import Axis


def hierarchy_problems(axes: Mapping[str, Axis]) -> Iterator[tuple[Loc, str]]:
    """Unknown or circular parents, and labels whose parent label the parent axis lacks."""
    for name, axis in axes.items():
        at: Loc = ("axes", name)
        if axis.parent is None:
            for i, label in enumerate(axis.labels):
                if label.parent is not None:
                    yield (
                        (*at, "labels", i, "parent"),
                        f"label {label.name!r} names a parent, but axis {name!r} has no "
                        "'parent' axis",
                    )
            continue
        if axis.parent == name:
            yield (*at, "parent"), f"axis {name!r} cannot be its own parent"
            continue
        parent = axes.get(axis.parent)
        if parent is None:
            yield (
                (*at, "parent"),
                f"axis {name!r} names unknown parent axis {axis.parent!r}; the set has "
                f"{sorted(axes)}",
            )
            continue
        chain = [name]
        up: str | None = axis.parent
        while up is not None and up in axes:
            if up in chain:
                cycle = " → ".join([*chain[chain.index(up) :], up])
                yield (*at, "parent"), f"axis parents form a cycle: {cycle}"
                break
            chain.append(up)
            up = axes[up].parent
        for i, label in enumerate(axis.labels):
            if label.parent is None:
                yield (
                    (*at, "labels", i),
                    f"label {label.name!r} needs a 'parent': one of {parent.names} "
                    f"(axis {name!r} is a child of {axis.parent!r})",
                )
            elif label.parent not in parent.names:
                yield (
                    (*at, "labels", i, "parent"),
                    f"label {label.name!r} names unknown parent {label.parent!r}; axis "
                    f"{axis.parent!r} has {parent.names}",
                )


def with_parents(axes: Mapping[str, Axis], wanted: list[str]) -> set[str]:
    """The axes asked for and every axis above them: a child is answered within its parent."""
    out: set[str] = set()
    for name in wanted:
        up: str | None = name
        while up is not None and up not in out:
            out.add(up)
            up = axes[up].parent
    return out
