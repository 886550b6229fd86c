"""Redis for tests: the shared server (127.0.0.1:6379, a database and key prefix of each test's
own, emptied afterwards), or a ``redis-server`` of a test's own that it may kill and restart."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
import uuid
from pathlib import Path

import redis

SHARED_URL = "redis://127.0.0.1:6379/11"  # database 11: the tests', never an application's


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def answers(url: str) -> bool:
    try:
        return bool(redis.Redis.from_url(url, socket_timeout=1, socket_connect_timeout=1).ping())
    except redis.RedisError:
        return False


def unique_prefix() -> str:
    return f"rubric-test-{uuid.uuid4().hex[:10]}:"


def delete_prefix(url: str, prefix: str) -> int:
    """Removes every key under ``prefix``; returns how many."""
    client = redis.Redis.from_url(url, socket_timeout=5)
    keys = list(client.scan_iter(match=f"{prefix}*", count=500))
    if keys:
        client.delete(*keys)
    client.close()
    return len(keys)


def keys_under(url: str, prefix: str) -> list[str]:
    client = redis.Redis.from_url(url, decode_responses=True, socket_timeout=5)
    try:
        return sorted(client.scan_iter(match=f"{prefix}*", count=500))
    finally:
        client.close()


class OwnRedis:
    """``redis-server --port <free> --save ''``: no persistence, on a port of its own, so a test
    can kill it (SIGKILL, as a crash would) and start it again on the same port."""

    def __init__(self, workdir: Path, *extra: str) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError("redis-server is not installed (apt-get install redis-server)")
        self.binary = binary
        self.workdir = workdir
        self.extra = extra  # more redis-server options, e.g. "--maxmemory", "2mb"
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> OwnRedis:
        cmd = [
            self.binary,
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(self.workdir),
            *self.extra,
        ]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while not answers(self.url):
            if time.monotonic() > deadline or self.proc.poll() is not None:
                raise RuntimeError(f"redis-server on port {self.port} did not start")
            time.sleep(0.05)
        return self

    def kill(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait(timeout=10)
            self.proc = None

    def stop(self) -> None:
        self.kill()
