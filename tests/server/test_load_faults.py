"""Fault tests against real uvicorn processes on 127.0.0.1 (bounded: small counts, deadlines)."""

from __future__ import annotations

import asyncio
import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
from load import ROOT, free_port, server_command, start_server, wait_ready
from support.files import make_readonly, make_writable

TEXT = "I was charged twice this month. Order #12345."


def _children(pid: int) -> list[int]:
    """uvicorn's worker processes (spawned), not multiprocessing's resource tracker."""
    path = Path(f"/proc/{pid}/task/{pid}/children")
    kids = [int(x) for x in path.read_text().split()] if path.exists() else []
    return [k for k in kids if b"spawn_main" in _cmdline(k)]


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except FileNotFoundError:  # it exited between the listing and this read: not a worker
        return b""


async def _fire(base: str, n: int, concurrency: int, on_start: dict[int, float]) -> list[object]:
    """n requests, a fresh connection each (no keep-alive), so a connection belongs to
    whichever worker accepted it. Returns the status code or the exception name per request."""
    out: list[object] = [None] * n
    sem = asyncio.Semaphore(concurrency)
    limits = httpx.Limits(max_keepalive_connections=0)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=30) as client:

        async def one(i: int) -> None:
            async with sem:
                on_start[i] = time.monotonic()
                try:
                    r = await client.post("/classify", json={"text": f"{TEXT} ref {i}"})
                    out[i] = r.status_code
                except httpx.HTTPError as exc:
                    out[i] = type(exc).__name__

        await asyncio.wait_for(asyncio.gather(*(one(i) for i in range(n))), timeout=120)
    return out


def _connections(pid: int, port: int) -> set[int]:
    """Client ports of the ESTABLISHED connections to ``port`` that process ``pid`` holds."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = str(fd.readlink())
        except OSError:  # closed while we looked
            continue
        if target.startswith("socket:["):
            inodes.add(int(target[8:-1]))
    ports = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local, remote, state, inode = fields[1], fields[2], fields[3], int(fields[9])
        if state == "01" and inode in inodes and int(local.split(":")[1], 16) == port:
            ports.add(int(remote.split(":")[1], 16))
    return ports


async def _post(port: int, body: bytes) -> tuple[int, int | str]:
    """One request on a fresh connection. Returns (client port, status) or (client port, why
    it failed): the client port says which worker held the connection (``_connections``)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    client_port = int(writer.get_extra_info("sockname")[1])
    head = (
        f"POST /classify HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\n"
        f"content-length: {len(body)}\r\nconnection: close\r\n\r\n"
    ).encode()
    try:
        writer.write(head + body)
        status_line = await reader.readuntil(b"\r\n\r\n")
        length = int(status_line.lower().split(b"content-length:")[1].split(b"\r\n")[0])
        # Done at the last body byte, not at EOF: a complete answer counts as answered even
        # if the worker dies before it closes the connection.
        await reader.readexactly(length)
        return client_port, int(status_line[9:12])
    except (OSError, asyncio.IncompleteReadError) as exc:
        return client_port, type(exc).__name__
    finally:
        writer.close()


async def _load(port: int, n: int, concurrency: int, tag: str) -> list[tuple[int, int | str]]:
    sem = asyncio.Semaphore(concurrency)

    async def one(i: int) -> tuple[int, int | str]:
        async with sem:
            body = json.dumps({"text": f"{TEXT} ref {tag}-{i}"}).encode()
            return await _post(port, body)

    return await asyncio.wait_for(asyncio.gather(*(one(i) for i in range(n))), timeout=120)


@pytest.mark.skipif(not Path("/proc/net/tcp").exists(), reason="needs /proc")
def test_killing_a_worker_loses_no_other_request(tmp_path: Path) -> None:
    """A worker SIGKILLed mid-load loses the requests it had accepted and not answered; every
    other request succeeds, and the server serves on, with a replacement worker.

    Deterministic: the victim is stopped (SIGSTOP) first, so it accepts nothing more, and after
    a second the connections it still holds ESTABLISHED are exactly the requests it has not
    answered (answered ones are closed by the client). Those, and only those, must fail."""
    port = free_port()
    server = start_server(port, 2, tmp_path / "cache", tmp_path / "server.log")
    try:
        wait_ready(f"http://127.0.0.1:{port}")
        deadline = time.monotonic() + 60
        while len(_children(server.pid)) < 2 and time.monotonic() < deadline:
            time.sleep(0.2)
        workers = _children(server.pid)
        assert len(workers) == 2, workers

        async def scenario() -> tuple[list[tuple[int, int | str]], int, set[int]]:
            load = asyncio.create_task(_load(port, 400, 8, "before"))
            victim, held = 0, set()
            for attempt in range(8):  # a worker may hold no request at the instant it stops
                await asyncio.sleep(0.5)
                victim = workers[attempt % 2]
                os.kill(victim, signal.SIGSTOP)
                await asyncio.sleep(1.0)  # the client finishes what the victim had answered
                held = _connections(victim, port)
                if held:
                    os.kill(victim, signal.SIGKILL)
                    break
                os.kill(victim, signal.SIGCONT)
            assert held, "neither worker held a request when stopped"
            return await load, victim, held

        outcomes, victim, held = asyncio.run(scenario())
        failed = [(p, o) for p, o in outcomes if o != 200]
        print(f"killed {victim} holding {len(held)}; failed: {failed}")
        # The killed worker's unanswered requests fail, as broken connections (never an HTTP
        # error status); every other request succeeds.
        assert {p for p, _ in failed} == held
        assert len(failed) == len(held)
        assert all(isinstance(o, str) for _, o in failed)

        # The server serves on: the surviving worker at once, then a replacement, which must
        # not take connections before its model has loaded (it answered 503 not_ready to its
        # share of the traffic for seconds: the bug this test first caught).
        async def until_a_replacement_serves() -> tuple[list[tuple[int, int | str]], int | None]:
            deadline = time.monotonic() + 90
            after: list[tuple[int, int | str]] = []
            replacement = None
            while time.monotonic() < deadline:
                batch = asyncio.create_task(_load(port, 8, 8, f"after-{len(after)}"))
                while not batch.done():
                    new = [w for w in _children(server.pid) if w not in workers]
                    replacement = new[0] if new else None
                    if replacement is not None and _connections(replacement, port):
                        return after + await batch, replacement
                    await asyncio.sleep(0.01)
                after += batch.result()
                await asyncio.sleep(0.1)
            raise AssertionError(f"no replacement worker served within 90 s ({replacement})")

        after, replacement = asyncio.run(until_a_replacement_serves())
        print(f"replacement {replacement} served after {len(after)} more requests")
        assert victim not in _children(server.pid)
        assert server.poll() is None
        assert [o for _, o in after] == [200] * len(after)
    finally:
        server.send_signal(signal.SIGINT)
        server.wait(timeout=30)


def test_cache_made_read_only_mid_load_degrades(tmp_path: Path) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    cache_dir = tmp_path / "cache"
    log = tmp_path / "server.log"
    server = start_server(port, 1, cache_dir, log)
    try:
        wait_ready(base)
        started: dict[int, float] = {}

        async def scenario() -> list[object]:
            load = asyncio.create_task(_fire(base, 80, 4, started))
            await asyncio.sleep(0.8)
            make_readonly(cache_dir)
            return await load

        try:
            outcomes = asyncio.run(scenario())
            assert server.poll() is None, "the worker died"
            repeat = httpx.post(f"{base}/classify", json={"text": TEXT}, timeout=30)
        finally:
            make_writable(cache_dir)
    finally:
        server.send_signal(signal.SIGINT)
        server.wait(timeout=30)
    assert outcomes == [200] * len(outcomes)
    assert repeat.status_code == 200
    text = log.read_text()
    assert "result cache" in text and "failed" in text, text[-2000:]


def test_cache_filling_up_mid_load_degrades(tmp_path: Path) -> None:
    """The disk fills under the result cache: writes fail (EFBIG from RLIMIT_FSIZE, what a full
    disk looks like to SQLite), every request still gets its 200, the log warns, nobody dies."""
    limit = 100_000  # bytes per file: an empty cache.db is 32 KiB, ~90 entries fill the rest
    cache_dir = tmp_path / "cache"
    log = tmp_path / "server.log"

    def limit_file_size() -> None:  # in the child, before exec
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a failed write, not a killed process
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "GATEWAY_CACHE_DIR": str(cache_dir),
        "GATEWAY_HOST": "127.0.0.1",
        # the store would hit the file-size limit too, and its recorder retry writes at shutdown
        "GATEWAY_STORE_ENABLED": "false",
    }
    # The log goes through a pipe: a log file written by the server would hit the limit too.
    server = subprocess.Popen(
        server_command(port, 1),
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        preexec_fn=limit_file_size,
    )
    assert server.stdout is not None
    with log.open("wb") as sink:
        copier = threading.Thread(target=shutil.copyfileobj, args=(server.stdout, sink))
        copier.start()
        try:
            wait_ready(base)
            outcomes = asyncio.run(_load(port, 160, 4, "fill"))
            assert server.poll() is None, "the worker died"
            repeat = httpx.post(f"{base}/classify", json={"text": TEXT}, timeout=30)
        finally:
            server.send_signal(signal.SIGINT)
            server.wait(timeout=30)
            copier.join(timeout=10)
    size = (cache_dir / "cache.db").stat().st_size
    assert [o for _, o in outcomes] == [200] * len(outcomes)
    assert repeat.status_code == 200
    assert 32_768 < size <= limit, size  # it stored entries, then hit the wall
    text = log.read_text()
    assert "result cache write failed" in text, text[-2000:]
