"""Redaction of German, French and Spanish tickets: the English NER model vs pattern
recognizers only (NER off), which is what the gateway uses for a ticket detected in another
language (``gateway.redaction.language``).

    .venv/bin/python bench/redaction_languages.py [--details]

Data: ``evals/pii/languages.jsonl`` (30 tickets written for this project, 10 a language, with
ordinary words the English model tags as names listed as ``keep``). Scored as
``bench/redaction.py`` scores: a value is redacted when >= 80% of its characters are covered;
a ``keep`` string is damaged when any character is; a false positive touches no PII value.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from redaction import Tally, Ticket, score  # the shared scoring of bench/redaction.py

from gateway.config import RedactionSettings
from gateway.redaction import PresidioRedactor, load_spacy_model

DATA = Path(__file__).resolve().parents[1] / "evals" / "pii" / "languages.jsonl"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--details", action="store_true")
    args = parser.parse_args()
    rows = [json.loads(line) for line in DATA.read_text().splitlines() if line.strip()]
    nlp = load_spacy_model()
    settings = RedactionSettings()
    redactors = {
        "English NER (before)": PresidioRedactor.from_settings(settings, nlp),
        "patterns only, NER off (now)": PresidioRedactor.from_settings(settings, nlp, ner=False),
    }
    print("| redactor | lang | PII found | PERSON | other PII | keep damaged | false positives |")
    print("|---|---|---|---|---|---|---|")
    notes: list[str] = []
    for name, redactor in redactors.items():
        tallies: dict[str, Tally] = defaultdict(Tally)
        for i, row in enumerate(rows):
            pii = [(p["type"], p["value"], "") for p in row["pii"]]
            ticket = Ticket(row["text"], pii, row["keep"], row["ignore"], row["lang"])
            forwarded = redactor.redact(row["text"]).text
            score(ticket, redactor.detect(row["text"]), forwarded, tallies[row["lang"]], i)
        total = Tally()
        for lang in ("de", "fr", "es", "all"):
            t = tallies[lang] if lang != "all" else total
            if lang != "all":
                for k, v in t.found.items():
                    total.found[k] += v
                for k, v in t.total.items():
                    total.total[k] += v
                total.keep_total += t.keep_total
                total.keep_damaged += t.keep_damaged
                total.false_positives += t.false_positives
                notes += [f"{name} {lang} {n}" for n in t.notes]
            person = f"{t.found['PERSON']}/{t.total['PERSON']}"
            others = [k for k in t.total if k != "PERSON"]
            other = f"{sum(t.found[k] for k in others)}/{sum(t.total[k] for k in others)}"
            found = f"{sum(t.found.values())}/{sum(t.total.values())}"
            print(
                f"| {name} | {lang} | {found} | {person} | {other} "
                f"| {t.keep_damaged}/{t.keep_total} | {t.false_positives} |"
            )
    if args.details:
        print("\n".join(notes))


if __name__ == "__main__":
    main()
