"""Redaction time on hostile input: long runs without spaces, long whitespace, dense PII.

    .venv/bin/python bench/redaction_hostile.py [--sizes 5000,20000] [--repeat N] [--only NAME ...]

For each input, at each size (characters), prints the CPU time of one ``redact`` call of the
deployment's default ``PresidioRedactor`` (process CPU time, so busy neighbours do not count;
best of ``--repeat``), the wall time, and the growth from the smallest to the largest size. Time
linear in the text grows 4x from 5,000 to 20,000 characters; quadratic, 16x. Before issue 11,
``"!" * 20000`` took ~40 s (spaCy's tokenizer) and ``"A-" * 10000`` ~34 s (regular expressions).
The inputs are synthetic; nothing here is ticket text.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from gateway.redaction import PresidioRedactor, load_spacy_model  # noqa: E402

_PUNCTUATION = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"
_ALNUM = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"


def _repeat(unit: str) -> Callable[[int], str]:
    return lambda n: (unit * (n // len(unit) + 1))[:n]


def _random(alphabet: str) -> Callable[[int], str]:
    return lambda n: "".join(random.Random(n).choice(alphabet) for _ in range(n))


def _between(head: str, fill: str, tail: str) -> Callable[[int], str]:
    return lambda n: head + fill * (n - len(head) - len(tail)) + tail


INPUTS: dict[str, Callable[[int], str]] = {
    "'!' run": _repeat("!"),
    "'=' run": _repeat("="),
    "'-' run": _repeat("-"),
    "'.' run": _repeat("."),
    "'@' run": _repeat("@"),
    "emoji run": _repeat("😀"),
    "emoji ZWJ sequences": _repeat("👩\u200d💻"),
    "'a' run": _repeat("a"),
    "'1' run": _repeat("1"),
    "'a.' run": _repeat("a."),
    "'A-' run": _repeat("A-"),
    "'Aa-' run": _repeat("Aa-"),
    "'1,' run": _repeat("1,"),
    "'1.' run": _repeat("1."),
    "'a@' run": _repeat("a@"),
    "random punctuation": _random(_PUNCTUATION),
    "random letters and digits": _random(_ALNUM),
    "spaces between words": _between("x", " ", "x"),
    "tabs between words": _between("x", "\t", "x"),
    "newlines between words": _between("x", "\n", "x"),
    "cue, spaces, name": _between("my name is", " ", "Jane Doe"),
    "'order', spaces, number": _between("order", " ", "12345"),
    "'flat', spaces": _between("Flat", " ", "3, 15 Queen's Road"),
    "'born', spaces, date": _between("born", " ", "12/03/1990"),
    "Chinese run": _repeat("我"),
    "combining marks": _repeat("Z" + "\u0336" * 9),
    "zero-width in digits": _repeat("1\u200b"),
    "fullwidth digits": _repeat("１"),
    "URL escapes": _repeat("%40"),
    "HTML references": _repeat("&#64;"),
    "'a dot ' words": _repeat("a dot "),
    "e-mail addresses": _repeat("a@b.com "),
    "phone numbers": _repeat("+1 415 555 2671 "),
    "IP addresses": _repeat("10.0.0.1 "),
    "sign-off names": _repeat("Regards, Jane Doe. "),
    "ids and phones": _repeat("ORD-1 call 415-555-0132 "),
    "capitalised words": _repeat("Jane "),
    "plain words": _repeat("lorem ipsum dolor sit amet "),
    "Chinese tickets": _repeat("您好，我叫王伟，手机号码是13812345678。"),
}


def _time(redactor: PresidioRedactor, text: str, repeat: int) -> tuple[float, float]:
    best_cpu = best_wall = float("inf")
    for _ in range(repeat):
        c0, t0 = time.process_time(), time.perf_counter()
        redactor.redact(text)
        best_cpu = min(best_cpu, time.process_time() - c0)
        best_wall = min(best_wall, time.perf_counter() - t0)
    return best_cpu * 1000, best_wall * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="5000,20000", help="characters, comma-separated")
    parser.add_argument("--only", nargs="*", default=[], help="input names (default: all)")
    parser.add_argument("--repeat", type=int, default=1, help="calls an input and size; best")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    names = args.only or list(INPUTS)

    redactor = PresidioRedactor(load_spacy_model())
    head = " | ".join(f"{f'{s:,} chars CPU / wall ms':>26}" for s in sizes)
    print(f"| {'input':<26} | {head} | growth |")
    print(f"|{'-' * 28}|" + "|".join("-" * 28 for _ in sizes) + f"|{'-' * 8}|")
    for name in names:
        cpu = []
        cells = []
        for size in sizes:
            c, w = _time(redactor, INPUTS[name](size), args.repeat)
            cpu.append(c)
            cells.append(f"{f'{c:,.0f} / {w:,.0f}':>26}")
        growth = cpu[-1] / max(cpu[0], 0.5)
        print(f"| {name:<26} | {' | '.join(cells)} | {growth:>5.1f}x |", flush=True)


if __name__ == "__main__":
    main()
