"""The eval harness's fake classifier and tiny suite, shared by the tests of tests/evals.

The fake scores by keywords, so every number the harness reports can be worked out by hand.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from gateway.errors import GatewayError, TextEmptyError
from gateway.evals import ClassifyFn, LoadedSuite, RunSpec
from gateway.rubrics import parse_rubric
from gateway.schemas import ClassifyRequest, ClassifyResponse, RubricRef, Usage
from gateway.scoring import entropy, margin

RUBRIC = """\
name: tiny
thresholds: {auto_route: 0.8, review: 0.5}
labels:
  - name: billing
    rubric: Is this text about a charge, refund or invoice?
  - name: technical
    rubric: Is this text about something broken or an error?
  - name: account
    rubric: Is this text about logging in or the account?
"""

# (text, label); 'oos' is out of scope for the rubric
TICKETS = [
    ("I was charged twice, refund please", "billing"),
    ("where is my invoice", "billing"),
    ("refund my order", "billing"),
    ("the app shows an error", "technical"),
    ("the page is broken", "technical"),
    ("refund for the broken thing", "technical"),  # the fake says billing: a known miss
    ("I cannot log in to my account", "account"),
    ("reset my account password", "account"),
    ("what is the weather like", "oos"),
    ("tell me a joke", "oos"),
]
TRAIN = [
    ("charged for nothing, refund", "billing"),
    ("invoice missing", "billing"),
    ("error on start", "technical"),
    ("it is broken again", "technical"),
    ("account locked", "account"),
    ("log in fails", "account"),
    ("refund or invoice? the screen is broken", "technical"),  # misses: the fake says billing
    ("a charge on the invoice of my account", "account"),
    ("sing a song", "oos"),
]

KEYWORDS = {
    "billing": ("charge", "refund", "invoice"),
    "technical": ("error", "broken"),
    "account": ("log in", "account", "password"),
}


def _softmax(values: dict[str, float]) -> dict[str, float]:
    top = max(values.values())
    exp = {k: math.exp(v - top) for k, v in values.items()}
    total = sum(exp.values())
    return {k: v / total for k, v in exp.items()}


class FakeClassifier:
    """Keyword scores → softmax; records every batch it was given."""

    def __init__(self, sharpness: float = 2.0, swap: dict[str, str] | None = None) -> None:
        self.sharpness = sharpness
        self.swap = swap or {}
        self.batches: list[list[ClassifyRequest]] = []
        # the rubric it answers for (the harness checks it is the suite's own file)
        self.fingerprint = parse_rubric(RUBRIC, "tiny.yaml").fingerprint

    async def __call__(
        self, reqs: Sequence[ClassifyRequest]
    ) -> list[ClassifyResponse | GatewayError]:
        self.batches.append(list(reqs))
        out: list[ClassifyResponse | GatewayError] = []
        for req in reqs:
            if req.text == "":
                out.append(TextEmptyError("text is empty"))
                continue
            hits = {
                label: float(sum(word in req.text.lower() for word in words))
                for label, words in KEYWORDS.items()
            }
            scores = _softmax({k: self.sharpness * v for k, v in hits.items()})
            top = max(scores, key=scores.__getitem__)
            top = self.swap.get(req.text, top)
            none_fits = not any(hits.values())
            conf = scores[top]
            decision = (
                "manual"
                if none_fits
                else "auto_route"
                if conf >= 0.8
                else "review"
                if conf >= 0.5
                else "manual"
            )
            out.append(
                ClassifyResponse(
                    axis="category",
                    top_label=top,
                    scores=scores,
                    raw={k: min(1.0, v / 2) for k, v in hits.items()},
                    confidence=conf,
                    margin=margin(scores),
                    entropy=entropy(scores),
                    decision=decision,
                    reason="fake",
                    labels=[top] if not none_fits else [],
                    none_fits=none_fits,
                    rubric=RubricRef(name="tiny", fingerprint=self.fingerprint),
                    model="fake/keywords",
                    scorer="local",
                    usage=Usage(prompt_tokens=10, completion_tokens=2, cost_usd=0.001),
                    latency_ms=1.0,
                )
            )
        return out


def fake_factory(fake: FakeClassifier):  # type: ignore[no-untyped-def]
    @contextmanager
    def factory(loaded: LoadedSuite, run: RunSpec, *, cache: bool) -> Iterator[ClassifyFn]:
        fake.fingerprint = loaded.rubric.fingerprint
        yield fake

    return factory


def write_jsonl(path: Path, rows: Sequence[tuple[str, str]]) -> None:
    path.write_text("".join(json.dumps({"text": t, "label": lb}) + "\n" for t, lb in rows))


def write_tiny_suite(tmp_path: Path) -> Path:
    """data/tiny/{test,train}.jsonl, repo/evals/rubrics/tiny.yaml and the suite beside it."""
    data = tmp_path / "data" / "tiny"
    data.mkdir(parents=True)
    write_jsonl(data / "test.jsonl", TICKETS)
    write_jsonl(data / "train.jsonl", TRAIN)
    suites = tmp_path / "repo" / "evals" / "suites"
    rubrics = tmp_path / "repo" / "evals" / "rubrics"
    suites.mkdir(parents=True)
    rubrics.mkdir(parents=True)
    (rubrics / "tiny.yaml").write_text(RUBRIC)
    path = suites / "tiny.yaml"
    path.write_text(
        """\
name: tiny
data_dir: ../../../data
dataset:
  splits: {test: tiny/test.jsonl, train: tiny/train.jsonl}
  licence: CC0 (written for this test)
  attribution: tests/evals/test_eval_harness.py
  share_text: true
rubric: ../rubrics/tiny.yaml
oos_labels: [oos]
batch_size: 3
concurrency: 2
calibration: {split: train, size: null, target_precision: 0.9}
"""
    )
    return path
