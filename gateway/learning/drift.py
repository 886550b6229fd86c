"""Drift of one rubric axis over time: label shares, confidence and accuracy per window.

Each window's predicted-label shares are compared with a reference window's by the population
stability index ``PSI = sum_i (p_i - q_i) * ln(p_i / q_i)`` (p: the window's shares, q: the
reference's) and by a chi-square test of homogeneity of the two count vectors. No ticket text.

Raw PSI has a floor that sampling alone produces, about ``(k - 1) * (1/n_ref + 1/n)`` for k
labels: 0.2-0.3 with 77 labels and 500 tickets a window, so the usual 0.2 alarm would ring on
every window. ``DriftWindow.psi`` is the raw PSI less that floor (``psi_noise``; ``debias``), an
estimate of the populations' PSI, to which the 0.2 rule applies; ``psi_raw`` is the textbook one.

**Rubric edits.** A window is compared with a reference of its own rubric fingerprint only:
points are cut by (window, fingerprint), each fingerprint's reference is its first full window
with ``min_points`` tickets (or its points in the configured range). Against the old rubric's
shares an edit would read as drift, the edit's and not the tickets', until the old reference aged
out. The price: drift spanning an edit is not seen (``DriftReport.references`` hold each
fingerprint's shares, for the edit's own effect). The edit's window gives a row per fingerprint.
"""

from __future__ import annotations

import logging
import math
from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field, model_validator

from gateway.learning.drift_stats import (
    chi_square,
    label_bins,
    psi,
    psi_noise,
    psi_terms,
)
from gateway.store.records import DriftPoint

log = logging.getLogger("gateway.drift")

OTHER = "(other)"
"""The bin of predicted labels the rubric no longer has (it was edited since)."""

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True)


class DriftOptions(_Frozen):
    """How windows are cut and when a window counts as drifted."""

    window: timedelta = Field(timedelta(days=1), gt=timedelta(0), description="aligned to UTC")
    reference: Literal["first"] | tuple[datetime, datetime] = Field(
        "first",
        description="'first': each fingerprint's first full window with min_points; or a "
        "[start, end) range (a fingerprint without points in it: 'first')",
    )
    psi_warn: float = Field(0.2, description="PSI above this warns")
    alpha: float = Field(0.01, description="chi-square p below this is significant")
    epsilon: float = Field(0.5, gt=0, description="pseudo-count added to every PSI bin")
    min_points: int = Field(30, ge=1, description="windows with fewer points are marked small")
    debias: bool = Field(True, description="subtract the sampling floor from PSI")
    since: datetime | None = Field(None, description="windows starting before are partial")
    as_of: datetime | None = Field(None, description="windows ending after are partial; now")

    @model_validator(mode="after")
    def _check(self) -> DriftOptions:
        if isinstance(self.reference, tuple) and self.reference[0] >= self.reference[1]:
            raise ValueError("reference start must be before its end")
        return self


class LabelShift(_Frozen):
    """One label's share in the reference and in a window."""

    label: str
    reference_share: float
    share: float


class DriftWindow(_Frozen):
    """One time window of one fingerprint of one axis, against that fingerprint's reference."""

    start: datetime
    end: datetime
    fingerprint: str = Field(description="the rubric fingerprint of every point in the window")
    n: int
    full: bool = Field(description="the window lies wholly within [since, as_of]")
    small: bool = Field(description="fewer than min_points: do not trust its statistics")
    is_reference: bool = Field(False, description="this window is its fingerprint's reference")
    shares: dict[str, float] = Field(description="predicted-label shares, every report label")
    psi: float = Field(description="PSI against the reference, less the sampling floor")
    psi_raw: float = Field(description="textbook PSI against the reference")
    psi_noise: float = Field(description="raw PSI that sampling alone gives, on average")
    chi2: float
    p_value: float
    significant: bool = Field(description="chi-square p < alpha")
    movers: list[LabelShift] = Field(description="the labels that moved PSI most")
    mean_confidence: float = Field(description="mean calibrated top probability: est. accuracy")
    none_fits_share: float
    n_labelled: int = Field(description="points with a human label")
    observed_accuracy: float | None = Field(description="labelled points where label == top")
    estimated_accuracy: float | None = Field(description="mean confidence of the labelled ones")
    warn: bool = Field(description="psi > psi_warn; full; neither it nor its reference small")


class DriftReport(_Frozen):
    """Every window of one rubric axis, each against its fingerprint's reference."""

    rubric: str
    axis: str
    fingerprints: list[str] = Field(description="rubric fingerprints seen, oldest first")
    labels: list[str] = Field(description="the rubric's labels, then (other) if it occurred")
    options: DriftOptions
    references: dict[str, DriftWindow] = Field(description="per fingerprint, its reference")
    windows: list[DriftWindow] = Field(description="by start, then fingerprint (oldest first)")
    any_warning: bool
    latest: DriftWindow | None = Field(description="newest full, not small: what gauges show")

    @property
    def reference(self) -> DriftWindow | None:
        """The newest fingerprint's reference."""
        return self.references.get(self.fingerprints[-1]) if self.fingerprints else None


class DriftObserver(Protocol):
    """Who hears of a drift report (server.metrics.Metrics)."""

    def drift(self, report: DriftReport) -> None: ...


# --------------------------------------------------------------------------- windows


def _utc(at: datetime) -> datetime:
    # the SQLite store hands back naive datetimes; they are UTC
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


def _window_start(at: datetime, window: timedelta) -> datetime:
    return _EPOCH + ((at - _EPOCH) // window) * window


def _mean(values: Sequence[float]) -> float | None:
    return math.fsum(values) / len(values) if values else None


def _movers(
    ref: Mapping[str, int], cur: Mapping[str, int], bins: Sequence[str], eps: float
) -> list[LabelShift]:
    rn, cn = sum(ref.values()) or 1, sum(cur.values()) or 1
    top = sorted(zip(psi_terms(ref, cur, bins, eps), bins, strict=True), reverse=True)[:3]
    return [
        LabelShift(label=b, reference_share=ref.get(b, 0) / rn, share=cur.get(b, 0) / cn)
        for t, b in top
        if t > 0
    ]


class _Cutter:
    """Builds DriftWindows from points, given the report's labels and the options."""

    def __init__(self, labels: Sequence[str], options: DriftOptions, as_of: datetime) -> None:
        self.labels, self.known = list(labels), set(labels)
        self.options = options
        self.since = _utc(options.since) if options.since is not None else None
        self.as_of = as_of

    def counts(self, points: Sequence[DriftPoint]) -> Counter[str]:
        return Counter(p.top_label if p.top_label in self.known else OTHER for p in points)

    def full(self, start: datetime, end: datetime) -> bool:
        return end <= self.as_of and (self.since is None or start >= self.since)

    def window(
        self,
        start: datetime,
        end: datetime,
        points: Sequence[DriftPoint],
        reference: DriftWindow | None,
        reference_counts: Counter[str],
    ) -> DriftWindow:
        """``reference`` None: this is the reference (its counts are ``reference_counts``)."""
        o = self.options
        counts = self.counts(points)
        n = len(points)
        bins = label_bins(reference_counts, counts, self.labels)
        raw = psi(reference_counts, counts, self.labels, epsilon=o.epsilon)
        noise = psi_noise(reference_counts, counts, self.labels, epsilon=o.epsilon)
        value = max(0.0, raw - noise) if o.debias else raw
        test = chi_square(reference_counts, counts)
        labelled = [p for p in points if p.label is not None]
        small, full = n < o.min_points, self.full(start, end)
        trusted_ref = reference is not None and not reference.small
        return DriftWindow(
            start=start,
            end=end,
            fingerprint=points[0].fingerprint,
            n=n,
            full=full,
            small=small,
            is_reference=reference is None,
            shares={label: counts.get(label, 0) / n for label in self.labels},
            psi=value,
            psi_raw=raw,
            psi_noise=noise,
            chi2=test.statistic,
            p_value=test.p_value,
            significant=test.p_value < o.alpha,
            movers=_movers(reference_counts, counts, bins, o.epsilon),
            mean_confidence=math.fsum(p.confidence for p in points) / n,
            none_fits_share=sum(p.none_fits for p in points) / n,
            n_labelled=len(labelled),
            observed_accuracy=_mean([float(p.label == p.top_label) for p in labelled]),
            estimated_accuracy=_mean([p.confidence for p in labelled]),
            warn=value > o.psi_warn and full and not small and trusted_ref,
        )


def _reference_start(groups: Mapping[datetime, Sequence[DriftPoint]], cut: _Cutter) -> datetime:
    # a first window of a handful of tickets, or a partial one (a time-of-day sample), would
    # make every later window look drifted: the first full one with min_points, if any
    enough = [s for s, g in groups.items() if len(g) >= cut.options.min_points]
    full = [s for s in enough if cut.full(s, s + cut.options.window)]
    return (full or enough or list(groups))[0]


_WARNING = (
    "drift on %s.%s (fingerprint %s): window %s..%s PSI %.3f > %.2f "
    "(raw %.3f, %d tickets, chi2 p %.2g)"
)


def _warn_log(report: DriftReport) -> None:
    # labels, counts and timestamps only: never ticket text
    for w in (w for w in report.windows if w.warn):
        start, end, warn = w.start.isoformat(), w.end.isoformat(), report.options.psi_warn
        where = (report.rubric, report.axis, w.fingerprint[:12], start, end)
        log.warning(_WARNING, *where, w.psi, warn, w.psi_raw, w.n, w.p_value)


def drift_report(
    points: Sequence[DriftPoint],
    *,
    rubric: str,
    axis: str,
    labels: Sequence[str],
    options: DriftOptions = DriftOptions(),  # noqa: B008 (frozen: a shared default is safe)
    observer: DriftObserver | None = None,
) -> DriftReport:
    """Cut ``points`` into windows per fingerprint and compare each with its reference.

    Windows are aligned to multiples of ``options.window`` since the Unix epoch (daily windows
    are UTC days); windows without points are left out. Predicted labels not in ``labels`` count
    in an ``(other)`` bin. Logs a warning on ``gateway.drift`` for each window that warns, then
    hands the report to ``observer`` (the metrics: gauges of ``latest``, the warning counter).
    """
    pts = sorted((p.model_copy(update={"at": _utc(p.at)}) for p in points), key=lambda p: p.at)
    as_of = _utc(options.as_of) if options.as_of is not None else datetime.now(UTC)
    other = not {p.top_label for p in pts} <= set(labels)
    report_labels = [*labels, OTHER] if other else list(labels)
    cut = _Cutter(report_labels, options, as_of)
    fingerprints = list(dict.fromkeys(p.fingerprint for p in pts))
    by_fp: dict[str, dict[datetime, list[DriftPoint]]] = {f: {} for f in fingerprints}
    for p in pts:
        by_fp[p.fingerprint].setdefault(_window_start(p.at, options.window), []).append(p)

    in_range: dict[str, list[DriftPoint]] = {}
    if isinstance(options.reference, tuple):
        r_start, r_end = (_utc(t) for t in options.reference)
        for p in (p for p in pts if r_start <= p.at < r_end):
            in_range.setdefault(p.fingerprint, []).append(p)
        if not in_range:
            raise ValueError(f"no points of {rubric}.{axis} in the reference range")

    references: dict[str, DriftWindow] = {}
    windows: list[DriftWindow] = []
    for f, groups in by_fp.items():
        if f in in_range:
            ref_counts = cut.counts(in_range[f])
            ref = cut.window(r_start, r_end, in_range[f], None, ref_counts)
        else:
            s = _reference_start(groups, cut)
            ref_counts = cut.counts(groups[s])
            ref = cut.window(s, s + options.window, groups[s], None, ref_counts)
        references[f] = ref
        for s, g in groups.items():
            own = f not in in_range and s == ref.start  # the reference window itself
            windows.append(ref if own else cut.window(s, s + options.window, g, ref, ref_counts))
    windows.sort(key=lambda w: (w.start, fingerprints.index(w.fingerprint)))
    trusted = [w for w in windows if w.full and not w.small]
    report = DriftReport(
        rubric=rubric,
        axis=axis,
        fingerprints=fingerprints,
        labels=report_labels,
        options=options,
        references=references,
        windows=windows,
        any_warning=any(w.warn for w in windows),
        latest=trusted[-1] if trusted else None,
    )
    _warn_log(report)
    if observer is not None:
        observer.drift(report)
    return report
