"""The eval delta: the saved rubric and the draft on one labelled set, measured by the eval
harness's own metrics and comparison (paired bootstrap CIs, flips, routing shares).

A labelled set is an eval suite whose rubric has the set's name, or the stored corrections
(the store's newest human label of each ticket). A delta runs as a task on the server's
event loop (the classifier works in worker threads), and reports its progress as it goes.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Coroutine, Sequence
from pathlib import Path
from typing import Literal

from pydantic import BaseModel

from gateway.errors import GatewayError
from gateway.evals import (
    Comparison,
    RunMetrics,
    RunResult,
    RunSpec,
    Ticket,
    compare_runs,
    compute_metrics,
    load_suite,
    prediction_of,
)
from gateway.pipeline import Classifier
from gateway.rubrics import RubricSet
from gateway.schemas import ClassifyRequest, ClassifyResponse
from gateway.store import Store

CORRECTIONS = "corrections"
_BATCH = 64


class LabelledSet(BaseModel):
    id: str  # "suite:<file name>" or "corrections"
    title: str


class Cell(BaseModel):
    gold: str
    predicted: str
    saved: int
    draft: int


class Delta(BaseModel):
    n: int
    dropped: int  # tickets whose gold label neither version has
    labels: list[str]
    saved: RunMetrics
    draft: RunMetrics
    comparison: Comparison
    cells: list[Cell]
    wall_s: float


class DeltaJob(BaseModel):
    id: str
    rubric: str
    set_title: str
    total: int = 0
    done: int = 0
    state: Literal["running", "done", "failed"] = "running"
    error: str | None = None
    result: Delta | None = None


def suite_sets(suites_dir: Path, rubric: str) -> list[LabelledSet]:
    """The suites of ``suites_dir`` whose rubric set has this name, and the corrections."""
    found = []
    for path in sorted(suites_dir.glob("*.yaml")) if suites_dir.is_dir() else []:
        try:
            loaded = load_suite(path)
        except GatewayError:
            continue
        if loaded.rubric.name == rubric:
            found.append(LabelledSet(id=f"suite:{path.name}", title=f"eval suite {path.stem}"))
    found.append(LabelledSet(id=CORRECTIONS, title="stored corrections (human labels)"))
    return found


def labelled_tickets(
    set_id: str, suites_dir: Path, store: Store | None, rubric: RubricSet, limit: int
) -> tuple[list[Ticket], str, bool]:
    """The set's tickets (at most ``limit``, stratified), the axis they label, and whether
    their text may be shown (a suite's ``share_text``; stored text is already redacted)."""
    if set_id == CORRECTIONS:
        if store is None:
            raise ValueError("the labelled-data store is off: no stored corrections")
        axis = rubric.primary_axis
        rows = [e for e in store.export(rubric=rubric.name, axis=axis) if e.text]
        tickets = [Ticket(id=e.id, text=e.text or "", gold=(e.label,)) for e in rows[-limit:]]
        return tickets, axis, True
    name = set_id.removeprefix("suite:")
    path = suites_dir / name
    if not set_id.startswith("suite:") or Path(name).name != name or not path.is_file():
        raise ValueError(f"no labelled set {set_id!r}")
    loaded = load_suite(path)
    tickets = loaded.tickets(loaded.suite.split, size=limit, seed=0, stratify=True)
    return tickets, loaded.axis, loaded.suite.dataset.share_text


async def _run(
    classifier: Classifier,
    tickets: Sequence[Ticket],
    rubric: str,
    axis: str,
    job: DeltaJob,
    texts: dict[str, str],
) -> RunResult:
    started = time.perf_counter()
    preds = []
    for start in range(0, len(tickets), _BATCH):
        chunk = tickets[start : start + _BATCH]
        reqs = [ClassifyRequest(text=t.text, rubric=rubric, axes=[axis]) for t in chunk]
        outcomes = await classifier.classify_many(reqs)
        for ticket, outcome in zip(chunk, outcomes, strict=True):
            preds.append(prediction_of(ticket, outcome, len(chunk)))
            if isinstance(outcome, ClassifyResponse) and outcome.redacted_text is not None:
                texts[ticket.id] = outcome.redacted_text
        job.done += len(chunk)
    return RunResult(
        run=RunSpec(scorer="saved"),
        predictions=preds,
        wall_s=time.perf_counter() - started,
    )


def _cells(saved: RunMetrics, draft: RunMetrics, limit: int = 24) -> list[Cell]:
    if saved.confusion is None or draft.confusion is None:
        return []
    labels = saved.confusion.labels
    cells = [
        Cell(gold=labels[i], predicted=labels[j], saved=a, draft=b)
        for i, (row_a, row_b) in enumerate(
            zip(saved.confusion.counts, draft.confusion.counts, strict=True)
        )
        for j, (a, b) in enumerate(zip(row_a, row_b, strict=True))
        if a != b
    ]
    cells.sort(key=lambda c: (-abs(c.draft - c.saved), c.gold, c.predicted))
    return cells[:limit]


async def run_delta(
    job: DeltaJob,
    served: Classifier,
    draft: Classifier,
    saved_rubric: RubricSet,
    draft_rubric: RubricSet,
    tickets: list[Ticket],
    axis: str,
    share_text: bool,
) -> Delta:
    """Both versions on the tickets; ``job`` counts the tickets answered (both runs)."""
    if axis not in draft_rubric.axes:
        raise ValueError(f"the draft has no axis {axis!r}, which this labelled set labels")
    labels = list(saved_rubric.axes[axis].names)
    labels += [n for n in draft_rubric.axes[axis].names if n not in labels]
    known = [t for t in tickets if all(g in labels for g in t.gold)]
    job.total = 2 * len(known)
    started = time.perf_counter()
    texts: dict[str, str] = {}
    a = await _run(served, known, saved_rubric.name, axis, job, texts)
    b = await _run(draft, known, draft_rubric.name, axis, job, texts)
    b = b.model_copy(update={"run": RunSpec(scorer="draft")})
    ma = compute_metrics(a, labels, saved_rubric.thresholds_for(axis))
    mb = compute_metrics(b, labels, draft_rubric.thresholds_for(axis))
    comparison = compare_runs(a, b, labels, ma, mb, texts=texts if share_text else None)
    return Delta(
        n=len(known),
        dropped=len(tickets) - len(known),
        labels=labels,
        saved=ma,
        draft=mb,
        comparison=comparison,
        cells=_cells(ma, mb),
        wall_s=time.perf_counter() - started,
    )


class DeltaJobs:
    """The deltas of this process, newest kept; each runs as a task on the event loop."""

    def __init__(self, keep: int = 20) -> None:
        self.jobs: dict[str, DeltaJob] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._keep = keep

    def new(self, rubric: str, set_title: str) -> DeltaJob:
        job = DeltaJob(id=uuid.uuid4().hex[:16], rubric=rubric, set_title=set_title)
        self.jobs[job.id] = job
        while len(self.jobs) > self._keep:
            del self.jobs[next(iter(self.jobs))]
        return job

    def start(self, job: DeltaJob, work: Coroutine[object, object, Delta]) -> None:
        async def finish() -> None:
            try:
                job.result = await work
                job.state = "done"
            except GatewayError as exc:
                job.state, job.error = "failed", exc.message
            except ValueError as exc:
                job.state, job.error = "failed", str(exc)
            except Exception as exc:  # a bug: the page says so instead of spinning forever
                job.state, job.error = "failed", f"internal error ({type(exc).__name__})"

        task = asyncio.get_running_loop().create_task(finish())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
