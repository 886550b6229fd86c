"""Running one cell of a suite's matrix: a classify function per run, tickets in batches,
a ``RunResult`` out.

Everything takes a ``ClassifierFactory`` (run spec → classify function), so tests drive it with
fakes and the CLI with ``factory.real_factory``, which builds the gateway's own ``Classifier``.
The harness only needs a ``ClassifyFn`` (a batch of requests in, responses or errors out), asks
by rubric name and never bypasses the classifier, so the result cache makes an interrupted run
resumable; a response for another rubric than the suite's file (another fingerprint) stops the
run.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Protocol

from pydantic import BaseModel

from gateway.config import Floors, get_settings
from gateway.errors import GatewayError
from gateway.evals.loading import LoadedSuite
from gateway.evals.predictions import Prediction, RunResult, prediction_of
from gateway.evals.suite import RunSpec, SuiteError, Ticket
from gateway.pipeline import Calibration, load_calibration
from gateway.schemas import ClassifyRequest, ClassifyResponse
from gateway.slots import Slots


class ClassifyFn(Protocol):
    """What the harness needs from a classifier: ``Classifier.classify_many`` fits."""

    async def __call__(
        self, reqs: Sequence[ClassifyRequest]
    ) -> list[ClassifyResponse | GatewayError]: ...


ProgressFn = Callable[[int], None]


class ClassifierFactory(Protocol):
    """Builds the classify function for one run; a context manager so caches get closed."""

    def __call__(
        self, loaded: LoadedSuite, run: RunSpec, *, cache: bool
    ) -> AbstractContextManager[ClassifyFn]: ...


ProgressFactory = Callable[[str, int], AbstractContextManager[ProgressFn]]


@contextmanager
def _no_progress(description: str, total: int) -> Iterator[ProgressFn]:
    yield lambda n: None


class EvalOptions(BaseModel):
    sample: int | None = None
    seed: int | None = None
    stratify: bool | None = None  # None: the suite's sample.stratify
    split: str | None = None
    cache: bool = True
    batch_size: int | None = None
    concurrency: int | None = None
    apply_calibration: bool = True
    # where stored calibrations are read; None: beside the rubric (<rubric>.calibration.json)
    calibration_file: Path | None = None
    fail_under: list[tuple[str, float]] = []
    fail_over: list[tuple[str, float]] = []
    baseline: Path | None = None
    tolerance: float = 0.01
    show_text: bool = False
    bootstrap: int = 1000
    # floors for offline re-decisions; None: the deployment's, as ``real_factory`` uses
    floors: Floors | None = None


def decision_floors(options: EvalOptions) -> Floors:
    """The floors the gateway decided a run with, for deciding it again offline."""
    return options.floors if options.floors is not None else get_settings().floors


def _concurrency(run: RunSpec, options: EvalOptions, loaded: LoadedSuite) -> int:
    if options.concurrency:
        return options.concurrency
    # the embedded model already uses every core per batch; overlapping batches only contend
    return 1 if run.scorer == "local" else loaded.suite.concurrency


def run_one(
    loaded: LoadedSuite,
    tickets: Sequence[Ticket],
    run: RunSpec,
    factory: ClassifierFactory,
    options: EvalOptions,
    progress: ProgressFactory | None = None,
    label: str = "",
) -> RunResult:
    with (
        factory(loaded, run, cache=options.cache) as classify,
        (progress or _no_progress)(label or run.key, len(tickets)) as advance,
    ):
        return asyncio.run(
            run_tickets(
                loaded,
                tickets,
                classify,
                run,
                batch_size=options.batch_size,
                concurrency=_concurrency(run, options, loaded),
                progress=advance,
            )
        )


def build_requests(loaded: LoadedSuite, tickets: Sequence[Ticket]) -> list[ClassifyRequest]:
    """The suite's tickets as the gateway's requests. They carry no ``model`` or ``prompt``:
    the factory builds the classifier for the run (its scorer, model and prompt are the served
    ones), and a request override is what a deployment refuses unless it allows overrides; so
    a matrix that mixed the local scorer with a model would get ``invalid_request`` for every
    ticket of its local run."""
    redact = loaded.suite.redact
    return [
        ClassifyRequest(text=t.text, rubric=loaded.rubric.name, axes=[loaded.axis], redact=redact)
        for t in tickets
    ]


async def run_tickets(
    loaded: LoadedSuite,
    tickets: Sequence[Ticket],
    classify: ClassifyFn,
    run: RunSpec,
    *,
    batch_size: int | None = None,
    concurrency: int | None = None,
    progress: ProgressFn | None = None,
) -> RunResult:
    """Classify every ticket in batches, at most ``concurrency`` batches in flight.

    Batches let the local encoder pad and run many tickets at once; the bound keeps provider
    calls under their rate limits. One failing ticket is an error in its slot, not a failed run;
    a slot left empty (a classifier bug) is ``IncompleteResultsError``, not a shorter eval.
    """
    size = batch_size or loaded.suite.batch_size
    bound = concurrency or loaded.suite.concurrency
    requests = build_requests(loaded, tickets)
    slots: Slots[Prediction] = Slots(len(tickets))
    gate = asyncio.Semaphore(bound)
    scorer: str | None = None
    model: str | None = None
    prompt: str | None = None
    local_weight: float | None = None
    answered_by: dict[str, None] = {}  # ordered set
    errors: dict[str, str] = {}  # code -> its first message (never ticket text)

    async def one_batch(start: int) -> None:
        nonlocal scorer, model, prompt, local_weight
        chunk = requests[start : start + size]
        async with gate:
            outcomes = await classify(chunk)
        if len(outcomes) != len(chunk):
            raise RuntimeError(f"classifier returned {len(outcomes)} results for {len(chunk)}")
        for offset, outcome in enumerate(outcomes):
            if isinstance(outcome, ClassifyResponse):
                _check_rubric(loaded, outcome)
                if scorer is None:
                    scorer, model, prompt = outcome.scorer, outcome.model, outcome.prompt
                    local_weight = outcome.local_weight
                by = (outcome.scorer, outcome.model, outcome.prompt, outcome.local_weight)
                if not outcome.fallback:  # an outage's answers are no scorer's to calibrate
                    answered_by.setdefault(" ".join(str(part) for part in by))
            else:
                errors.setdefault(outcome.code, outcome.message)
            slots[start + offset] = prediction_of(
                tickets[start + offset], outcome, len(chunk), loaded.axis
            )
        if progress is not None:
            progress(len(chunk))

    started = time.perf_counter()
    await asyncio.gather(*(one_batch(s) for s in range(0, len(requests), size)))
    wall = time.perf_counter() - started
    return RunResult(
        run=run,
        scorer=scorer,
        model=model,
        prompt=prompt,
        local_weight=local_weight,
        answered_by=list(answered_by),
        predictions=slots.filled(),
        wall_s=wall,
        error_messages=errors,
    )


def _check_rubric(loaded: LoadedSuite, response: ClassifyResponse) -> None:
    """The classifier must have scored the suite's own rubric file, not a namesake."""
    if response.rubric.fingerprint != loaded.rubric.fingerprint:
        raise SuiteError(
            f"the classifier scored rubric set {response.rubric.name!r} with fingerprint "
            f"{response.rubric.fingerprint[:12]}, not {loaded.rubric_path} (fingerprint "
            f"{loaded.rubric.fingerprint[:12]}): does another file use the name "
            f"{loaded.rubric.name!r}?"
        )


def stored_calibration(
    loaded: LoadedSuite, result: RunResult, file: Path | None = None
) -> Calibration | None:
    """The calibration stored for this rubric content, axis and the run's scorer, model and
    prompt: in ``file``, or beside the rubric (where the gateway reads it)."""
    if result.scorer is None or result.model is None:
        return None
    return load_calibration(
        loaded.rubric_path,
        loaded.rubric.fingerprint,
        result.scorer,
        result.model,
        result.prompt,
        loaded.axis,
        file=file,
        local_weight=result.local_weight,
    )


def known_calibrations(
    loaded: LoadedSuite, result: RunResult, file: Path | None = None
) -> list[Calibration]:
    """Calibrations a classifier may have applied to this run: the one beside the rubric and
    the one in ``file``."""
    found = [stored_calibration(loaded, result), stored_calibration(loaded, result, file)]
    return list({c.id: c for c in found if c is not None}.values())


def without_rubric_examples(loaded: LoadedSuite, tickets: list[Ticket]) -> list[Ticket]:
    """Few-shot rubrics carry train utterances as examples; those score as near-certain
    matches, so fitting on them would make the calibration overconfident."""
    examples = loaded.rubric_examples()
    if not examples:
        return tickets
    return [t for t in tickets if " ".join(t.text.split()).lower() not in examples]
