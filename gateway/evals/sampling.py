"""Sampling a split's tickets: plain (seeded, without replacement) or stratified by gold label.

Stratified: each stratum (a ticket's first gold label; out-of-scope tickets are one stratum)
gets its share of the sample by largest remainder, and every stratum gets at least one ticket
when the sample has room for one of each, so a label with 3 tickets in 3,000 is still in a
sample of 100. The same rows, size and seed give the same sample.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence

from gateway.evals.suite import Ticket

OUT_OF_SCOPE = "(out of scope)"


def stratum(ticket: Ticket) -> str:
    return ticket.gold[0] if ticket.in_scope and ticket.gold else OUT_OF_SCOPE


def allocate(counts: dict[str, int], size: int, rng: random.Random) -> dict[str, int]:
    """Tickets per stratum: proportional (largest remainder), at least one each where the size
    allows; never more than a stratum has. ``size`` is below the total."""
    total = sum(counts.values())
    quota = {k: size * c / total for k, c in counts.items()}
    alloc = {k: math.floor(q) for k, q in quota.items()}
    if size >= len(counts):
        alloc = {k: max(1, a) for k, a in alloc.items()}
    order = sorted(counts)
    rng.shuffle(order)  # ties broken by the seed, not by label name
    while sum(alloc.values()) > size:  # the minimum of one took more than there was
        k = max((k for k in order if alloc[k] > 1), key=lambda k: alloc[k] - quota[k])
        alloc[k] -= 1
    while sum(alloc.values()) < size:
        room = [k for k in order if alloc[k] < counts[k]]
        k = max(room, key=lambda k: quota[k] - alloc[k])
        alloc[k] += 1
    return alloc


def stratified_sample(rows: Sequence[Ticket], size: int, seed: int) -> list[Ticket]:
    rng = random.Random(seed)  # noqa: S311 (sampling, not secrets)
    groups: dict[str, list[Ticket]] = {}
    for t in rows:
        groups.setdefault(stratum(t), []).append(t)
    alloc = allocate({k: len(g) for k, g in groups.items()}, size, rng)
    return [t for k in sorted(groups) for t in rng.sample(groups[k], alloc[k])]


def sample_tickets(
    rows: Sequence[Ticket], size: int | None, seed: int, stratify: bool = False
) -> list[Ticket]:
    """``size`` tickets of ``rows`` (all of them when ``size`` is None or not smaller)."""
    if size is None or size >= len(rows):
        return list(rows)
    if stratify:
        return stratified_sample(rows, size, seed)
    return random.Random(seed).sample(list(rows), size)  # noqa: S311 (sampling, not secrets)
