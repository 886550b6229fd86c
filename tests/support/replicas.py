"""Real gateway replicas for tests: ``python -m gateway.cli serve --port N`` subprocesses, each
with a cache and data directory of its own (as separate hosts would have)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]


class Replica:
    def __init__(self, name: str, port: int, workdir: Path, env: Mapping[str, str]) -> None:
        self.name = name
        self.port = port
        self.workdir = workdir
        self.log = workdir / "server.log"
        workdir.mkdir(parents=True, exist_ok=True)
        full = {
            **os.environ,
            "GATEWAY_HOST": "127.0.0.1",
            "GATEWAY_CACHE_DIR": str(workdir / "cache"),
            "GATEWAY_DATA_DIR": str(workdir / "data"),
            "TMPDIR": str(workdir),
            **env,
        }
        full.pop("PROMETHEUS_MULTIPROC_DIR", None)
        cmd = [sys.executable, "-m", "gateway.cli", "serve", "--port", str(port)]
        with self.log.open("wb") as sink:
            self.proc = subprocess.Popen(cmd, cwd=ROOT, env=full, stdout=sink, stderr=sink)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def wait_ready(self, timeout_s: float = 120) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited during start-up:\n{self.output()}")
            try:
                if httpx.get(f"{self.base}/healthz", timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"{self.name} not ready after {timeout_s:.0f} s:\n{self.output()}")

    def output(self, tail: int | None = 4000) -> str:
        text = self.log.read_text(errors="replace")
        return text if tail is None else text[-tail:]

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)


def start_pair(workdir: Path, env: Mapping[str, str], ports: tuple[int, int]) -> list[Replica]:
    """Two replicas on one shared configuration, started together; both ready on return."""
    pair = [
        Replica(name, port, workdir / name, env) for name, port in zip("ab", ports, strict=True)
    ]
    try:
        for replica in pair:
            replica.wait_ready()
    except BaseException:
        for replica in pair:
            replica.stop()
        raise
    return pair
