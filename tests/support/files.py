"""Read-only directories for fault tests (cache, rate limit, workers).

Root ignores mode bits, so as root the files are made immutable (chattr +i) instead.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest


def _tree(directory: Path) -> list[str]:
    return [*sorted(str(p) for p in directory.rglob("*") if p.is_file()), str(directory)]


def make_readonly(directory: Path) -> None:
    if os.geteuid() == 0:
        if shutil.which("chattr") is None:
            pytest.skip("root without chattr: cannot make a directory read-only")
        subprocess.run(["chattr", "+i", *_tree(directory)], check=True)
    else:
        for p in _tree(directory):
            Path(p).chmod(0o555 if Path(p).is_dir() else 0o444)


def make_writable(directory: Path) -> None:
    if os.geteuid() == 0:
        subprocess.run(["chattr", "-i", *_tree(directory)], check=False)
    else:
        for p in _tree(directory):
            Path(p).chmod(0o755 if Path(p).is_dir() else 0o644)
