"""Redaction quality and latency over the hand-made PII tickets.

    .venv/bin/python bench/redaction.py [--section NAME] [--data PATH] [--repeat N] [--details]

Sections: ``shared`` (default, ``shared/data/pii_tickets/tickets.jsonl``), ``heldout``
(``evals/pii/heldout.jsonl``) and ``obfuscated`` (``evals/pii/obfuscated.jsonl``: PII written to
slip past detection, each ticket tagged with its ``variant``). Rows are ``{"text", "pii":
[{"type", "value", "canonical"?}], "keep", "ignore", "variant"?}``; ``--data`` reads another file.
For the deployment's default ``PresidioRedactor`` it prints:

- recall per entity type: a value counts as redacted when at least 80% of its characters are
  covered by detected spans (of any type);
- recall on e-mail, phone, card, IBAN, IP and SSN together;
- ``keep`` strings damaged: any of their characters covered;
- false positives: detected spans that touch neither a PII value nor an ``ignore`` string;
- values left in the forwarded text: ``redact(text).text`` still holds the value as written,
  decoded (NFKC, no format characters, HTML and URL escapes undone), in its ``canonical`` form,
  or (for 7 or more digits) its digits in a row;
- recall per ``variant``, where the rows have one;
- latency p50/p95 of ``redact`` per ticket, after a warm-up pass, as wall time and as CPU time
  of the calling thread (the machine's load average is printed beside it).

``--details`` also prints each miss, damaged keep string and false positive. The data set is
synthetic (invented people, test card numbers), which is why printing them here is acceptable;
the gateway itself never prints ticket text.
"""

from __future__ import annotations

import argparse
import html
import json
import os
import statistics
import sys
import time
import unicodedata
import urllib.parse
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from gateway.redaction import (  # noqa: E402
    ENTITY_TYPES,
    Finding,
    PresidioRedactor,
    load_spacy_model,
)

SECTIONS = {
    "shared": ROOT.parent / "shared" / "data" / "pii_tickets" / "tickets.jsonl",
    "heldout": ROOT / "evals" / "pii" / "heldout.jsonl",
    "obfuscated": ROOT / "evals" / "pii" / "obfuscated.jsonl",
}
CORE_TYPES = ("EMAIL_ADDRESS", "PHONE_NUMBER", "CREDIT_CARD", "IBAN_CODE", "IP_ADDRESS", "US_SSN")
TYPE_ORDER = ENTITY_TYPES
COVERED = 0.8


@dataclass
class Ticket:
    text: str
    pii: list[tuple[str, str, str]]  # type, value as written, canonical form ("" if none)
    keep: list[str]
    ignore: list[str]
    variant: str


@dataclass
class Tally:
    found: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    total: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    variant_found: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    variant_total: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    leaks: int = 0
    keep_total: int = 0
    keep_damaged: int = 0
    false_positives: int = 0
    notes: list[str] = field(default_factory=list)


def load(path: Path) -> list[Ticket]:
    tickets = []
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                row = json.loads(line)
                pii = [(p["type"], p["value"], p.get("canonical", "")) for p in row["pii"]]
                keep, ignore = row.get("keep", []), row.get("ignore", [])
                tickets.append(Ticket(row["text"], pii, keep, ignore, row.get("variant", "")))
    return tickets


def decoded(text: str) -> str:
    """The bench's own decoding, independent of the redactor's: what a reader would see."""
    text = urllib.parse.unquote(html.unescape(text))
    text = unicodedata.normalize("NFKC", text)
    return "".join(c for c in text if unicodedata.category(c) != "Cf")


def digits(text: str) -> str:
    return "".join(c for c in text if c.isdigit())


def left_in(forwarded: str, value: str, canonical: str) -> bool:
    """Whether the forwarded (redacted) text still carries the value in some form."""
    seen = decoded(forwarded).casefold()
    forms = {value, decoded(value), canonical} - {""}
    if any(form.casefold() in seen for form in forms):
        return True
    number = digits(decoded(value))
    return len(number) >= 7 and number in digits(seen)


def occurrences(text: str, value: str) -> list[tuple[int, int]]:
    spans, start = [], text.find(value)
    while start >= 0:
        spans.append((start, start + len(value)))
        start = text.find(value, start + 1)
    return spans


def covered(mask: list[bool], start: int, end: int) -> int:
    return sum(mask[start:end])


def score(
    ticket: Ticket, findings: list[Finding], forwarded: str, tally: Tally, index: int
) -> None:
    text = ticket.text
    mask = [False] * len(text)
    for f in findings:
        for i in range(f.start, f.end):
            mask[i] = True

    for kind, value, canonical in ticket.pii:
        spans = occurrences(text, value)
        if not spans:
            raise SystemExit(f"ticket {index}: PII value not found in its text")
        tally.total[kind] += 1
        tally.variant_total[ticket.variant] += 1
        # every occurrence of the value must be covered
        if all(covered(mask, a, b) >= COVERED * (b - a) for a, b in spans):
            tally.found[kind] += 1
            tally.variant_found[ticket.variant] += 1
        else:
            tally.notes.append(f"#{index} MISS {kind}: {value!r}")
        if left_in(forwarded, value, canonical):
            tally.leaks += 1
            tally.notes.append(f"#{index} LEFT IN FORWARDED TEXT {kind}: {value!r}")

    for value in ticket.keep:
        tally.keep_total += 1
        if any(covered(mask, a, b) for a, b in occurrences(text, value)):
            tally.keep_damaged += 1
            tally.notes.append(f"#{index} DAMAGED keep: {value!r}")

    known = [s for _, v, _ in ticket.pii for s in occurrences(text, v)]
    known += [s for v in ticket.ignore for s in occurrences(text, v)]
    for f in findings:
        if not any(f.start < b and a < f.end for a, b in known):
            tally.false_positives += 1
            tally.notes.append(
                f"#{index} FALSE POSITIVE {f.entity_type}: {text[f.start : f.end]!r}"
            )


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--section", choices=sorted(SECTIONS), default="shared")
    parser.add_argument("--data", type=Path, help="another file in the same format")
    parser.add_argument("--repeat", type=int, default=5, help="timed passes over the data")
    parser.add_argument("--details", action="store_true", help="print misses and damages")
    args = parser.parse_args()

    data = args.data if args.data is not None else SECTIONS[args.section]
    tickets = load(data)
    started = time.perf_counter()
    redactor = PresidioRedactor(load_spacy_model())
    build_s = time.perf_counter() - started

    tally = Tally()
    for index, ticket in enumerate(tickets):
        forwarded = redactor.redact(ticket.text).text
        score(ticket, redactor.detect(ticket.text), forwarded, tally, index)

    for ticket in tickets:  # warm-up pass, untimed
        redactor.redact(ticket.text)
    load_before = os.getloadavg()[0]
    latencies, cpu = [], []
    for _ in range(args.repeat):
        for ticket in tickets:
            t0, c0 = time.perf_counter(), time.thread_time()
            redactor.redact(ticket.text)
            cpu.append((time.thread_time() - c0) * 1000)
            latencies.append((time.perf_counter() - t0) * 1000)
    load_after = os.getloadavg()[0]
    texts = [t.text for t in tickets]
    c0 = time.thread_time()
    for _ in range(args.repeat):
        redactor.redact_batch(texts)
    batch_cpu = (time.thread_time() - c0) * 1000 / (args.repeat * len(texts))

    rows = []
    for kind in TYPE_ORDER:
        total = tally.total.get(kind, 0)
        if total:
            found = tally.found.get(kind, 0)
            rows.append((kind, f"{found}/{total}", f"{found / total:.3f}"))
    core_found = sum(tally.found.get(k, 0) for k in CORE_TYPES)
    core_total = sum(tally.total.get(k, 0) for k in CORE_TYPES)
    all_found, all_total = sum(tally.found.values()), sum(tally.total.values())

    print(f"{len(tickets)} tickets from {data}")
    print(f"redactor built in {build_s:.1f} s; threshold {redactor.score_threshold}")
    print()
    print(f"| {'entity':<28} | {'found':>7} | {'recall':>6} |")
    print(f"|{'-' * 30}|{'-' * 9}|{'-' * 8}|")
    for kind, frac, recall in rows:
        print(f"| {kind:<28} | {frac:>7} | {recall:>6} |")
    print(
        f"| {'email+phone+card+IBAN+IP+SSN':<28} | {f'{core_found}/{core_total}':>7} "
        f"| {core_found / core_total:>6.3f} |"
    )
    print(
        f"| {'all types':<28} | {f'{all_found}/{all_total}':>7} | {all_found / all_total:>6.3f} |"
    )
    variants = sorted(v for v in tally.variant_total if v)
    if variants:
        print()
        print(f"| {'variant':<28} | {'found':>7} | {'recall':>6} |")
        print(f"|{'-' * 30}|{'-' * 9}|{'-' * 8}|")
        for variant in variants:
            found, total = tally.variant_found[variant], tally.variant_total[variant]
            print(f"| {variant:<28} | {f'{found}/{total}':>7} | {found / total:>6.3f} |")
    print()
    print(f"values left in the forwarded text: {tally.leaks} of {all_total}")
    print(f"keep strings damaged: {tally.keep_damaged} of {tally.keep_total}")
    print(f"false positives:      {tally.false_positives}")
    print(
        f"latency per ticket:   p50 {statistics.median(latencies):.1f} ms, "
        f"p95 {percentile(latencies, 0.95):.1f} ms "
        f"({len(latencies)} calls, {args.repeat} passes after a warm-up pass)"
    )
    # Wall time inflates when other processes share the cores; CPU time of the calling thread
    # shows what the redactor itself costs.
    print(
        f"CPU per ticket:       p50 {statistics.median(cpu):.1f} ms, "
        f"p95 {percentile(cpu, 0.95):.1f} ms "
        f"(load average {load_before:.1f} -> {load_after:.1f} on {os.cpu_count()} cores)"
    )
    print(f"CPU per ticket, redact_batch over all {len(texts)}: {batch_cpu:.1f} ms")
    if args.details:
        print()
        print("\n".join(tally.notes))


if __name__ == "__main__":
    main()
