"""Slots: a result list is complete, or it is an error."""

from __future__ import annotations

import pytest

from gateway.errors import IncompleteResultsError, InternalError
from gateway.slots import Slots


def test_filled_slots_come_back_in_order() -> None:
    slots: Slots[str] = Slots(3)
    slots[2] = "c"
    slots.fill([0, 1], "ab")
    assert slots.filled() == ["ab", "ab", "c"]
    assert len(slots) == 3


def test_an_unfilled_slot_is_an_error_naming_it() -> None:
    slots: Slots[int | None] = Slots(3)
    slots[0] = None  # None is a value like any other
    with pytest.raises(
        IncompleteResultsError, match=r"2 of 3 results were never filled \(slots 1, 2\)"
    ):
        slots.filled()
    assert issubclass(IncompleteResultsError, InternalError)
    assert slots.is_set(0) and not slots.is_set(1)
