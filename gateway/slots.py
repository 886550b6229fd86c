"""Result slots: one per input, complete or an error, never silently shorter.

Batches fill their results out of order (groups, caches, concurrent calls). ``Slots`` holds one
place per input; ``filled()`` returns them all, in order, or raises ``IncompleteResultsError``
naming the unfilled positions, so a bug that skips a slot is a loud 500, not a batch or an eval
that quietly lost items.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Generic, TypeVar

from gateway.errors import IncompleteResultsError

T = TypeVar("T")

_UNSET = object()


class Slots(Generic[T]):
    def __init__(self, size: int) -> None:
        self._values: list[object] = [_UNSET] * size

    def __len__(self) -> int:
        return len(self._values)

    def __setitem__(self, index: int, value: T) -> None:
        self._values[index] = value

    def fill(self, indices: Iterable[int], value: T) -> None:
        """The same value (one error for a whole group, say) in every slot of ``indices``."""
        for i in indices:
            self._values[i] = value

    def is_set(self, index: int) -> bool:
        return self._values[index] is not _UNSET

    def filled(self) -> list[T]:
        missing = [i for i, v in enumerate(self._values) if v is _UNSET]
        if missing:
            shown = ", ".join(map(str, missing[:10])) + (" …" if len(missing) > 10 else "")
            raise IncompleteResultsError(
                f"{len(missing)} of {len(self._values)} results were never filled (slots {shown})"
            )
        return list(self._values)  # type: ignore[arg-type]  # every slot holds a T now
