"""``rubric cache stats|clear``: the result cache from the command line."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from gateway.cache.disk import open_cache
from gateway.config import get_settings

out = Console()
cache_app = typer.Typer(help="Inspect or empty the result cache.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(cache_app, name="cache")


@cache_app.command("stats")
def cache_stats(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Entries, size on disk, limit and TTL of the result cache."""
    cache = open_cache(get_settings().cache)
    stats = cache.stats()
    cache.close()
    if as_json:
        out.print_json(stats.model_dump_json())
        return
    table = Table(title="result cache")
    table.add_column("field")
    table.add_column("value", justify="right")
    for field in ("directory", "enabled", "entries", "volume_bytes", "size_limit_bytes", "ttl_s"):
        table.add_row(field, str(getattr(stats, field)))
    out.print(table)


@cache_app.command("clear")
def cache_clear() -> None:
    """Remove every cached result (safe while servers run: diskcache is process-safe)."""
    cache = open_cache(get_settings().cache)
    removed = cache.clear()
    cache.close()
    out.print(f"removed {removed} cached results from {cache.directory}")
