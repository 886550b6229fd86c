"""Build the long-ticket suite's data: BANKING77 test queries inside long, label-neutral
narratives (evals/data/banking77_long/, README there).

Each ticket is one BANKING77 query (its label is the ticket's) placed at the start, in the
middle or at the end of 2,000-10,000 characters of filler written for this project: greetings,
background and courtesy that name no banking intent, so the label does not change. Reading the
first 256 tokens sees the query only when it comes first.

    python evals/make_long_tickets.py            # writes evals/data/banking77_long/test.jsonl
"""

from __future__ import annotations

import argparse
import json
import random
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent
SOURCE = ROOT.parent.parent / "shared" / "data" / "banking77" / "test.jsonl"
OUT = ROOT / "data" / "banking77_long" / "test.jsonl"

# Written for this project; none names a banking intent (card, transfer, top-up, fee, PIN, ...).
FILLER = [
    "I have been with you for about three years now and until recently I had no complaints.",
    "I am writing this during my lunch break, so please forgive any typos.",
    "My sister recommended your service to me when I moved here for work.",
    "Normally I would not bother writing in, but I have run out of ideas.",
    "I have already read through the help pages and the frequently asked questions.",
    "I would really appreciate a reply whenever someone has a moment to look at this.",
    "Some background first, because I think it matters.",
    "Last month I moved flat, and everything has been a bit chaotic since then.",
    "I travel quite a lot for my job, mostly within Europe, sometimes further away.",
    "The app itself is lovely to use and I tell my friends so.",
    "I tried to ring the phone line yesterday evening but gave up after a while.",
    "I am not a very technical person, so I may be describing this badly.",
    "My partner says I should have written to you weeks ago.",
    "I keep everything organised in a spreadsheet, which is how I noticed.",
    "I know your team is probably very busy at the moment.",
    "I am usually patient with these things, but this time I am running out of patience.",
    "To be clear, I am not trying to blame anyone here.",
    "I have attached nothing to this message because I was not sure what you need.",
    "It is the first time something like this has happened to me.",
    "I would rather sort this out by message than on the phone, if that is possible.",
    "We are a family of four and I handle most of the household admin.",
    "I also checked with a friend who uses your service, and she had not seen this before.",
    "I restarted my phone a couple of times, in case that helps you narrow it down.",
    "My phone is a fairly recent model and the app is up to date, as far as I can tell.",
    "I only noticed this when I sat down on Sunday to go through things properly.",
    "Please do not close this conversation until we have found an answer together.",
    "Thank you in advance for your help, and sorry for the long message.",
    "I have tried to keep this short, but there is a lot to explain.",
    "English is not my first language, so some of my wording may be odd.",
    "Your support team helped me once before and they were excellent.",
    "I work shifts, so I may not answer straight away.",
    "I have been thinking about this for a few days before writing.",
    "The weather has been terrible here, which has not helped my mood.",
    "My manager has asked me to sort out my paperwork before the end of the quarter.",
    "I like that everything is in one place in the app.",
    "I checked the status page and it said everything was running normally.",
    "If you need any more details from me, just ask and I will reply as soon as I can.",
    "I am writing from my laptop because the screen on my phone is cracked.",
    "I do not want to make a big fuss, I just want to understand what is going on.",
    "Hopefully this is something simple that I have overlooked.",
    "Kind regards, and thank you for reading this far.",
    "I was at my parents' house over the weekend with no signal at all.",
    "I have been recommending you to colleagues, so I would like this to go well.",
    "Let me explain what happened in order, as best as I remember it.",
    "I wrote down the times as carefully as I could.",
    "I did look for an answer in the community forum first.",
    "I hope you are having a good week despite messages like mine.",
    "Before anything else: I really do like your service.",
]


def narrative(rng: random.Random, chars: int) -> list[str]:
    """Paragraphs of filler adding up to about ``chars`` characters."""
    paragraphs: list[str] = []
    total = 0
    while total < chars:
        sentences = rng.sample(FILLER, rng.randint(3, 6))
        paragraph = " ".join(sentences)
        paragraphs.append(paragraph)
        total += len(paragraph) + 2
    return paragraphs


def long_ticket(rng: random.Random, query: str, position: str, chars: int) -> str:
    paragraphs = narrative(rng, chars)
    at = {"start": 0, "middle": len(paragraphs) // 2, "end": len(paragraphs)}[position]
    paragraphs.insert(at, query)
    return "\n\n".join(paragraphs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--per-label", type=int, default=5, help="queries per BANKING77 label")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    by_label: dict[str, list[str]] = defaultdict(list)
    for line in SOURCE.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        by_label[row["label"]].append(row["text"])
    rows = []
    for label in sorted(by_label):
        for query in rng.sample(by_label[label], args.per_label):
            position = rng.choice(["start", "middle", "end"])
            chars = rng.randint(2_000, 10_000)
            text = long_ticket(rng, query, position, chars)
            rows.append({"text": text, "label": label, "position": position})
    rng.shuffle(rows)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with args.out.open("w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
    print(f"{len(rows)} tickets -> {args.out}")


if __name__ == "__main__":
    main()
