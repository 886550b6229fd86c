"""The console's browser tests: a real gateway (real model, real Presidio, a real SQLite store)
served by uvicorn on 127.0.0.1, driven by Debian's Chromium through Playwright.

One server and one browser per module; each test gets its own browser context (its own
cookies). Screenshots go to reports/console/ (git-ignored)."""

from __future__ import annotations

import shutil
import socket
import threading
import time
from collections.abc import Iterator

import pytest
import uvicorn
from support.console import (
    CHROMIUM,
    CHROMIUM_ARGS,
    DATA,
    EDITOR,
    QUEUED,
    REVIEWER,
    SHOTS,
    VIEWER,
    Console,
)
from support.settings import make_settings

from gateway.console import ConsoleOptions, with_console
from gateway.redaction import SpacyModel
from gateway.scoring import LocalScorer
from gateway.server import create_app
from gateway.server.security import hash_key


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def console(
    tmp_path_factory: pytest.TempPathFactory, local_scorer: LocalScorer, spacy_model: SpacyModel
) -> Iterator[Console]:
    if not CHROMIUM.exists():
        pytest.skip("Debian's Chromium is not installed (apt-get install -y chromium)")
    root = tmp_path_factory.mktemp("console")
    rubrics = root / "rubrics"
    rubrics.mkdir()
    shutil.copy(DATA / "bank.yaml", rubrics / "bank.yaml")
    suites = root / "suites"
    suites.mkdir()
    (suites / "bank_slice.yaml").write_text(
        f"name: bank_slice\ndata_dir: {DATA}\n"
        "dataset:\n  splits: {test: banking77_slice.jsonl}\n  licence: CC BY 4.0\n"
        "  attribution: BANKING77, Casanueva et al. 2020 (PolyAI)\n  share_text: true\n"
        "rubric: ../rubrics/bank.yaml\nsplit: test\n"
    )
    keys = root / "keys"
    keys.write_text(
        f"{hash_key(EDITOR)} roles=editor,classify\n"
        f"{hash_key(REVIEWER)} roles=reviewer\n"
        f"{hash_key(VIEWER)} roles=viewer\n"
    )
    settings = make_settings(
        cache={"dir": root / "cache"},
        rubrics={"dir": rubrics},
        access={"api_keys_file": keys},
        store={"data_dir": root / "data", "text_for": "all", "queue_for": "all", "explore": 0.0},
    )
    app = with_console(
        create_app(settings, wait=True, local=local_scorer, nlp=spacy_model),
        ConsoleOptions(suites_dir=suites),
    )
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, name="console-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + 120
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            pytest.fail("the console's server did not start")
        time.sleep(0.05)
    running = Console(
        url=f"http://127.0.0.1:{port}", rubric_path=rubrics / "bank.yaml", state=app.state.gateway
    )
    with running.api(EDITOR) as api:
        for text in QUEUED:
            r = api.post("/classify", json={"text": text, "rubric": "bank"})
            assert r.status_code == 200, r.text
    assert running.state.recorder is not None and running.state.recorder.flush()
    SHOTS.mkdir(parents=True, exist_ok=True)
    yield running
    server.should_exit = True
    thread.join(30)


@pytest.fixture(scope="module")
def browser(console: Console) -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()
