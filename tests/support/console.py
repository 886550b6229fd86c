"""What the console's browser tests share: the keys, the data, the running server."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import httpx

from gateway.config import PROJECT_ROOT
from gateway.server.state import AppState

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
DATA = PROJECT_ROOT / "tests" / "console" / "data"
SHOTS = PROJECT_ROOT / "reports" / "console"
EDITOR, REVIEWER, VIEWER = "k-console-editor", "k-console-reviewer", "k-console-viewer"
QUEUED = [  # no PII in the queue tickets but one email, to see it redacted
    "My new card still has not arrived after two weeks",
    "How do I activate the card I just got?",
    "Someone stole my wallet with my card in it",
    "What exchange rate do you use for euros?",
    "Why was I charged a fee at the ATM? Write to me at jane.doe@example.com",
]


@dataclass
class Console:
    url: str
    rubric_path: Path
    state: AppState

    def api(self, key: str) -> httpx.Client:
        return httpx.Client(base_url=self.url, headers={"x-api-key": key}, timeout=30)
