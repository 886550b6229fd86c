"""``gateway.classify``: the synchronous convenience wrapper, in a fresh process."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

SCRIPT = """
import gateway
first = gateway.classify("I was charged twice for my subscription", rubric="support")
second = gateway.classify("I was charged twice for my subscription", rubric="support")
print(first.top_label, first.cached, second.cached)
"""


def test_classify_runs_every_call_on_one_classifier_and_loop(tmp_path: Path) -> None:
    env = {**os.environ, "GATEWAY_CACHE_DIR": str(tmp_path / "cache")}
    run = subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, env=env, timeout=120
    )
    assert run.returncode == 0, run.stderr[-2000:]
    # the second call hit the first call's cache: the same classifier, on the same loop
    assert run.stdout.split() == ["billing", "False", "True"]
