"""``rubric train|models|shadow|promote|rollback|labels|purge|drift``: the learning loop from the
shell. Every command reads the store the server writes (``GATEWAY_DATABASE_URL``, else SQLite
under ``GATEWAY_DATA_DIR``)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from gateway.config import Settings, get_settings
from gateway.learning.drift import DriftOptions, drift_report
from gateway.learning.drift_plot import plot_drift
from gateway.learning.drift_table import drift_summary, drift_table
from gateway.learning.evidence import Evidence
from gateway.learning.lifecycle import (
    evidence_for,
    promote,
    purge,
    rollback,
    shadow,
    train_from_store,
)
from gateway.learning.train import TrainOptions
from gateway.rubrics import RubricSet, RubricStore
from gateway.scoring import Encoder, build_local_scorer
from gateway.store import Store, open_store

out = Console()
err = Console(stderr=True)

Rubric = Annotated[str, typer.Argument(help="rubric set name (a file in the rubrics directory)")]
AxisOpt = Annotated[str | None, typer.Option("--axis", help="default: the primary axis")]
ModelId = Annotated[str, typer.Argument(help="a model id from `rubric models`")]


@contextmanager
def _store(settings: Settings) -> Iterator[Store]:
    store = open_store(settings.store.url)
    try:
        yield store
    finally:
        store.close()


def _rubric(settings: Settings, name: str) -> RubricSet:
    return RubricStore(settings.rubrics.dir, settings.rubrics.reload_interval_s).get(name)


def _encoder(settings: Settings) -> Encoder:
    return build_local_scorer(settings.local).encoder


def _print_evidence(evidence: Evidence | None, model_id: str) -> None:
    if evidence is None:
        out.print(
            f"{model_id}: no held-out corrections yet (labelled after it was trained)",
            highlight=False,
        )
        return
    table = Table(title=f"{evidence.model_id} vs live on {evidence.n} held-out audit picks")
    for col in ("", "live", "head", "Δ (95% CI)"):
        table.add_column(col, justify="right")
    for name, a, b, d in (
        ("accuracy", evidence.live_accuracy, evidence.head_accuracy, evidence.delta_accuracy),
        ("macro-F1", evidence.live_macro_f1, evidence.head_macro_f1, evidence.delta_macro_f1),
    ):
        table.add_row(
            name, f"{a:.3f}", f"{b:.3f}", f"{d.estimate:+.3f} [{d.low:+.3f}, {d.high:+.3f}]"
        )
    out.print(table)
    m = evidence.mcnemar
    out.print(
        f"McNemar ({m.method}): live only right {m.b}, head only right {m.c}, p = {m.p_value:.3g}"
        f" · agreement {evidence.agreement:.1%} · head answers cross-fitted in {evidence.folds}"
        " folds",
        highlight=False,
    )


def train_command(
    rubric: Rubric,
    axis: AxisOpt = None,
    c: Annotated[float, typer.Option("--C", help="inverse regularisation")] = 10.0,
    weak_labels: Annotated[
        bool, typer.Option(help="add the rubric's own label texts as weak examples")
    ] = True,
    min_per_label: Annotated[int, typer.Option(help="refuse below this many per label")] = 2,
    self_train: Annotated[
        bool,
        typer.Option(help="refit with the waiting (unlabelled) tickets the head is sure of"),
    ] = False,
) -> None:
    """Train a head on the stored corrections (cross-validated report; registered as 'trained')."""
    settings = get_settings()
    rubric_set = _rubric(settings, rubric)
    axis_name = axis or rubric_set.primary_axis
    options = TrainOptions(
        C=c, weak_labels=weak_labels, min_per_label=min_per_label, self_train=self_train
    )
    with _store(settings) as store:
        trained = train_from_store(
            store, _encoder(settings), rubric_set, axis_name, settings.store.models_dir, options
        )
    r = trained.report
    table = Table(title=f"{trained.record.id}: {r.labels_used} labels (+{r.weak_labels_used} weak)")
    table.add_column("label")
    table.add_column("examples", justify="right")
    for label, n in sorted(r.per_label.items(), key=lambda kv: -kv[1]):
        table.add_row(label, str(n))
    out.print(table)
    out.print(
        f"cross-validated ({r.folds} folds): accuracy {r.cv_accuracy:.3f}, macro-F1 "
        f"{r.cv_macro_f1:.3f} · thresholds auto_route {r.thresholds.auto_route:.3f} / review "
        f"{r.thresholds.review:.3f} · {r.seconds:.1f} s",
        highlight=False,
    )
    if self_train and not r.self_trained:
        out.print(
            f"self-training not used: {r.labels_used} labels, under {options.self_train_from:g}"
            f" a label ({options.self_train_from * len(r.per_label):.0f}), or no waiting tickets",
            highlight=False,
        )
    out.print(f"next: rubric shadow start {trained.record.id}", highlight=False)


def models_command(rubric: Annotated[str | None, typer.Argument()] = None) -> None:
    """The trained heads, newest first, with their stage."""
    settings = get_settings()
    with _store(settings) as store:
        records = store.models(rubric)
    table = Table(title="trained heads")
    # an id is what the next command is typed with: never wrapped or cut
    table.add_column("id", no_wrap=True, min_width=max((len(r.id) for r in records), default=2))
    for col in ("stage", "labels", "cv macro-F1", "cv acc", "trained", "rubric fp"):
        table.add_column(col)
    for r in sorted(records, key=lambda r: (r.rubric, r.axis, -r.version)):
        table.add_row(
            r.id,
            r.stage,
            str(r.labels_used),
            f"{r.cv_macro_f1:.3f}",
            f"{r.cv_accuracy:.3f}",
            r.trained_at.strftime("%Y-%m-%d %H:%M"),
            r.fingerprint[:12],
        )
    out.print(table)


shadow_app = typer.Typer(help="Run a head beside the live scorer, and see how it does.")


@shadow_app.command("start")
def shadow_start(model: ModelId) -> None:
    """Put a head in shadow: it scores every ticket of its rubric; responses are unchanged."""
    settings = get_settings()
    with _store(settings) as store:
        record = shadow(store, model, _encoder(settings))
    out.print(f"{record.id} in shadow for {record.rubric}.{record.axis}", highlight=False)


@shadow_app.command("report")
def shadow_report(rubric: Rubric, axis: AxisOpt = None) -> None:
    """Live vs the shadow head on the corrections that arrived after it was trained."""
    settings = get_settings()
    with _store(settings) as store:
        heads = [r for r in store.staged(rubric, "shadow") if axis is None or r.axis == axis]
        heads += [r for r in store.staged(rubric, "promoted") if axis is None or r.axis == axis]
        if not heads:
            err.print(f"no head in shadow or promoted for {rubric}", highlight=False)
            raise typer.Exit(1)
        encoder = _encoder(settings)
        for record in heads:
            evidence = evidence_for(store, encoder, record.id, _rubric(settings, rubric))
            _print_evidence(evidence, record.id)


def promote_command(
    model: ModelId,
    force: Annotated[bool, typer.Option(help="promote without the evidence (recorded)")] = False,
) -> None:
    """Serve the head first (the live scorer where it is unsure); refused without evidence."""
    settings = get_settings()
    with _store(settings) as store:
        served = _rubric(settings, store.model(model).rubric)
        evidence = promote(store, _encoder(settings), model, served, force=force)
    _print_evidence(evidence, model)
    out.print(f"[green]promoted[/green] {model}", highlight=False)


def rollback_command(rubric: Rubric, axis: AxisOpt = None) -> None:
    """The promoted head goes back to shadow; the live scorer answers again."""
    settings = get_settings()
    with _store(settings) as store:
        for record in rollback(store, rubric, axis):
            out.print(f"{record.id} back in shadow", highlight=False)


labels_app = typer.Typer(help="The stored labels.")


@labels_app.command("export")
def labels_export(
    rubric: Annotated[str | None, typer.Argument()] = None,
    axis: AxisOpt = None,
    output: Annotated[Path | None, typer.Option("--out", help="default: standard output")] = None,
) -> None:
    """JSON lines (text, label, what the model said): a dataset `rubric eval` reads."""
    settings = get_settings()
    with _store(settings) as store:
        rows = store.export(rubric=rubric, axis=axis)
    lines = "".join(row.model_dump_json() + "\n" for row in rows)
    if output is None:
        typer.echo(lines, nl=False)
    else:
        output.write_text(lines)
        err.print(f"{len(rows)} labels → {output}", highlight=False)


def purge_command(
    days: Annotated[
        int | None, typer.Option("--older-than-days", help="default: GATEWAY_RETENTION_DAYS")
    ] = None,
) -> None:
    """Delete stored tickets (and their labels) older than the retention period."""
    settings = get_settings()
    retention = days if days is not None else settings.store.retention_days
    with _store(settings) as store:
        n = purge(store, retention)
    out.print(f"purged {n} ticket(s) classified more than {retention} days ago", highlight=False)


def drift_command(
    rubric: Rubric,
    axis: AxisOpt = None,
    days: Annotated[int, typer.Option(help="how far back")] = 30,
    window_hours: Annotated[float, typer.Option(help="window length")] = 24.0,
    plot: Annotated[Path | None, typer.Option(help="write the plot here (PNG)")] = None,
) -> None:
    """Label shares, confidence and accuracy per window against the first window."""
    settings = get_settings()
    rubric_set = _rubric(settings, rubric)
    axis_name = axis or rubric_set.primary_axis
    since = datetime.now(UTC) - timedelta(days=days)
    with _store(settings) as store:
        points = store.drift_points(rubric=rubric, axis=axis_name, since=since)
    report = drift_report(
        points,
        rubric=rubric,
        axis=axis_name,
        labels=rubric_set.axes[axis_name].names,
        # windows cut by the query's start are partial: never the reference
        options=DriftOptions(window=timedelta(hours=window_hours), since=since),
    )
    out.print(drift_table(report))
    out.print(drift_summary(report), highlight=False)
    path = plot or settings.store.data_dir / "drift" / f"{rubric}.{axis_name}.png"
    plot_drift(report, path)
    out.print(f"plot: {path}", highlight=False)


def register(app: typer.Typer) -> None:
    """Add the learning-loop commands to the ``rubric`` CLI."""
    app.command("train")(train_command)
    app.command("models")(models_command)
    app.add_typer(shadow_app, name="shadow")
    app.command("promote")(promote_command)
    app.command("rollback")(rollback_command)
    app.add_typer(labels_app, name="labels")
    app.command("purge")(purge_command)
    app.command("drift")(drift_command)
