"""The console's eval delta on 300 BANKING77 tickets with the embedded model: saved rubric vs a
draft with one question changed, both runs, metrics and comparison (the work behind the
editor's "Run eval delta" button). Needs ../shared/data (the suite's data_dir).

    .venv/bin/python bench/console_delta.py [--n 300]
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import tempfile
import time
from pathlib import Path

from gateway.config import PROJECT_ROOT, get_settings
from gateway.console.delta import DeltaJob, labelled_tickets, run_delta
from gateway.console.drafts import check_draft, draft_classifier
from gateway.pipeline import build_classifier, check_classifier
from gateway.rubrics import RubricStore

SUITES = PROJECT_ROOT / "evals" / "suites"


async def main(n: int) -> None:
    folder = Path(tempfile.mkdtemp(prefix="bench-console-"))
    shutil.copy(PROJECT_ROOT / "evals" / "rubrics" / "banking77.yaml", folder / "banking77.yaml")
    settings = get_settings()
    settings = settings.replace(
        rubrics=settings.rubrics.model_copy(update={"dir": folder}),
        cache=settings.cache.model_copy(update={"enabled": False}),
    )
    store = RubricStore(folder)
    served = build_classifier(settings, rubrics=store)
    await check_classifier(served)
    saved = store.get("banking77")
    source = (folder / "banking77.yaml").read_text()
    draft_source = source.replace(
        "Is this text about activating a new card?", "Is this text about a card to activate?"
    )
    checked = check_draft(draft_source, folder / "banking77.yaml", "banking77")
    assert checked.ok and checked.rubric is not None
    tickets, axis, share = labelled_tickets("suite:banking77.yaml", SUITES, None, saved, n)
    job = DeltaJob(id="bench", rubric="banking77", set_title="banking77")
    started = time.perf_counter()
    with draft_classifier(served, draft_source, folder / "banking77.yaml") as draft:
        delta = await run_delta(job, served, draft, saved, checked.rubric, tickets, axis, share)
    wall = time.perf_counter() - started
    c = delta.comparison
    print(f"tickets {delta.n} (×2 runs, redaction on, result cache off)")
    print(f"eval delta wall {wall:.2f} s (limit 10 s)")
    print(
        f"accuracy {delta.saved.accuracy:.3f} -> {delta.draft.accuracy:.3f}; flips {len(c.flips)}"
    )
    served.close()
    shutil.rmtree(folder)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=300)
    asyncio.run(main(parser.parse_args().n))
