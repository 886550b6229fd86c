"""``rubric``: serve the gateway, classify from the shell, check rubric files."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from gateway.config import Settings, get_settings, load_settings
from gateway.errors import GatewayError, RubricInvalidError
from gateway.rubrics import load_rubric_file, name_conflicts
from gateway.schemas import ClassifyRequest, ClassifyResponse

app = typer.Typer(
    name="rubric",
    help="rubric-gateway: zero-shot classification of support tickets against YAML rubrics.",
    no_args_is_help=True,
    add_completion=False,
)
out = Console()
err = Console(stderr=True)


def _settings(
    host: str | None = None, port: int | None = None, model: str | None = None
) -> Settings:
    """The environment's settings with the command line's options on top."""
    server = {k: v for k, v in (("host", host), ("port", port)) if v is not None}
    provider = {"model": model} if model is not None else {}
    if not server and not provider:
        return get_settings()
    return load_settings({"server": server, "provider": provider})


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="bind address")] = None,
    port: Annotated[int | None, typer.Option(help="port")] = None,
    workers: Annotated[int, typer.Option(help="uvicorn worker processes")] = 1,
) -> None:
    """Serve the HTTP API (POST /classify) on the configured scorer."""
    import uvicorn

    settings = _settings(host=host, port=port)
    _require_safe_bind(settings)
    err.print(
        f"rubric-gateway on http://{settings.server.host}:{settings.server.port} "
        f"(rubrics: {settings.rubrics.dir}); GET /healthz says when the model is ready"
    )
    if workers > 1:
        with _multiprocess_metrics():
            uvicorn.run(
                "gateway.asgi:app",
                host=settings.server.host,
                port=settings.server.port,
                workers=workers,
                log_level="info",
                proxy_headers=False,  # the app decides whose X-Forwarded-For to believe
                # A worker loads the models before it is ready (gateway/asgi.py): 3-4 s idle,
                # more under load. A SIGHUP rolling restart gives a new worker this long to get
                # ready (uvicorn's default, 5 s, would abandon it); the same bound applies to a
                # hung worker's liveness ping, answered by a thread even while the model loads.
                timeout_worker_healthcheck=30,
            )
    else:
        from gateway.console import with_console
        from gateway.server import create_app

        uvicorn.run(
            with_console(create_app(settings)),  # the web console at /ui
            host=settings.server.host,
            port=settings.server.port,
            log_level="info",
            # uvicorn would take X-Forwarded-For from any loopback peer and replace the peer's
            # address with it; the app believes it only from GATEWAY_TRUSTED_PROXIES
            # (gateway.server.security.clients), so the server must pass the real peer on.
            proxy_headers=False,
        )


@contextmanager
def _multiprocess_metrics() -> Iterator[None]:
    """Each worker is a process: its metrics go to files in PROMETHEUS_MULTIPROC_DIR, which
    /metrics sums (gateway.server.telemetry). Set here, before uvicorn spawns the workers, so they
    inherit it; a directory of our own is removed afterwards."""
    given = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if given:
        # prometheus-client's rule: start empty, or the last run's counts add to this run's
        Path(given).mkdir(parents=True, exist_ok=True)
        for stale in Path(given).glob("*.db"):
            stale.unlink()
        yield
        return
    directory = tempfile.mkdtemp(prefix="rubric-metrics-")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = directory
    try:
        yield
    finally:
        del os.environ["PROMETHEUS_MULTIPROC_DIR"]
        shutil.rmtree(directory, ignore_errors=True)


def _table(resp: ClassifyResponse) -> Table:
    table = Table(title=f"{resp.rubric.name}: {resp.decision} ({resp.reason})")
    table.add_column("axis")
    table.add_column("label")
    table.add_column("score", justify="right")
    table.add_column("raw", justify="right")
    axes = {resp.axis: (resp.top_label, resp.scores, resp.raw)}
    axes.update({name: (a.top_label, a.scores, a.raw) for name, a in resp.axes.items()})
    for axis, (top, scores, raw) in axes.items():
        for label, score in sorted(scores.items(), key=lambda kv: -kv[1]):
            mark = "[bold green]" if label == top else ""
            table.add_row(axis, f"{mark}{label}", f"{score:.3f}", f"{raw[label]:.3f}")
        table.add_section()
    return table


@app.command()
def classify(
    text: Annotated[str, typer.Argument(help="the ticket text ('-' reads standard input)")],
    rubric: Annotated[str | None, typer.Option(help="rubric set name")] = None,
    axes: Annotated[list[str] | None, typer.Option("--axis", help="axis to answer")] = None,
    model: Annotated[str | None, typer.Option(help="litellm model string")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the JSON response")] = False,
) -> None:
    """Classify one ticket locally (no server needed) and print the result."""
    from gateway.pipeline import build_classifier, check_classifier

    if text == "-":
        text = sys.stdin.read()

    async def checked_classify() -> ClassifyResponse:
        # the server's start-up check first: a model the scorer cannot use is a config_invalid
        # error naming the fix, not a failure of this one ticket
        await check_classifier(classifier)
        return await classifier.classify(ClassifyRequest(text=text, rubric=rubric, axes=axes))

    try:
        settings = _settings(model=model)
        classifier = build_classifier(settings)
        resp = asyncio.run(checked_classify())
    except GatewayError as exc:
        err.print(f"[red]error[/red] {exc.code}: {exc.message}")
        raise typer.Exit(2) from None
    if as_json:
        out.print_json(resp.model_dump_json())
        return
    out.print(_table(resp))
    if resp.flags:
        out.print("flags: " + ", ".join(f"{f.rule} ({f.action})" for f in resp.flags))
    if resp.redactions:
        out.print("redacted: " + ", ".join(f"{k}×{v}" for k, v in resp.redactions.items()))
    out.print(f"model {resp.model} · {resp.latency_ms:.1f} ms")


@app.command()
def check(
    files: Annotated[list[Path], typer.Argument(help="rubric YAML files")],
    overlap: Annotated[
        float, typer.Option(help="warn when two labels' rubric texts are this similar (cosine)")
    ] = 0.85,
    no_overlap: Annotated[bool, typer.Option("--no-overlap", help="skip the model check")] = False,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Validate rubric files: every problem with file:line and field; exit 1 on errors.

    A file whose rubric set name another file uses (one of those checked, or any rubric file in
    its directory, which a server would load with it) is an error naming both files."""
    problems: list[str] = []
    warnings: list[str] = []
    ok = []
    names: dict[Path, str] = {}
    scorer = None
    for path in files:
        try:
            rubric = load_rubric_file(path)
        except RubricInvalidError as exc:
            problems.extend(exc.problems)
            continue
        names[path] = rubric.name
        ok.append(path)
        if not no_overlap:
            if scorer is None:
                from gateway.scoring import build_local_scorer

                scorer = build_local_scorer(get_settings().local)
            for axis, a, b, cos in scorer.near_duplicates(rubric, overlap):
                warnings.append(
                    f"{path}: warning: axes.{axis}: labels {a!r} and {b!r} have near-duplicate "
                    f"rubrics (cosine {cos:.2f} ≥ {overlap:.2f}); the model will confuse them"
                )
    conflicts = name_conflicts(names, {p.parent for p in names})
    problems.extend(conflicts)
    ok = [p for p in ok if not any(c.startswith(f"{p}:") for c in conflicts)]
    if as_json:
        out.print_json(
            json.dumps({"errors": problems, "warnings": warnings, "ok": [str(p) for p in ok]})
        )
    else:
        for line in problems:
            err.print(f"[red]error[/red] {line}", highlight=False, soft_wrap=True)
        for line in warnings:
            err.print(f"[yellow]{line}[/yellow]", highlight=False, soft_wrap=True)
        for path in ok:
            out.print(f"[green]ok[/green] {path}", highlight=False)
    if problems:
        raise typer.Exit(1)


def _require_safe_bind(settings: Settings) -> None:
    """No API keys configured: refuse a non-loopback bind (gateway.server.security)."""
    from gateway.server.security import require_safe_bind

    try:
        require_safe_bind(settings)
    except GatewayError as exc:
        err.print(f"[red]error[/red] {exc.code}: {exc.message}")
        raise typer.Exit(2) from None


def _register_area_commands() -> None:
    """Each area adds its own sub-commands (``rubric cache ...``, ``rubric eval ...``)."""
    from gateway.cache.cli import register as register_cache
    from gateway.connectors.cli import register as register_connectors
    from gateway.evals.cli import register as register_evals
    from gateway.learning.cli import register as register_learning

    register_cache(app)
    register_connectors(app)
    register_evals(app)
    register_learning(app)


_register_area_commands()


def main() -> None:
    """The ``rubric`` command. A ``GatewayError`` from any command (invalid settings, an
    unusable model file, a bad suite) is one line and exit status 2, not a traceback."""
    try:
        app()
    except GatewayError as exc:
        err.print(f"[red]error[/red] {exc.code}: {exc.message}", highlight=False, soft_wrap=True)
        raise SystemExit(2) from None


if __name__ == "__main__":
    main()
