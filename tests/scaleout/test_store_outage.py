"""PostgreSQL going away under two running replicas: the store's routes answer 503
``store_unavailable`` promptly on both (no request hangs), /classify keeps answering, the
tickets classified during the outage are stored once it is back (none dropped), and both
replicas serve the queue again without a restart."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import httpx
import pytest
from sqlalchemy import make_url
from support.redis_server import free_port
from support.replicas import Replica, start_pair
from support.store import PG_URL, pg_scratch
from support.tcp_proxy import TcpProxy

from gateway.server.security import hash_key
from gateway.store import open_store

pytestmark = pytest.mark.slow

CLASSIFY = "k-outage-classify"
REVIEWER = "k-outage-reviewer"
BEFORE = ["I was charged twice for my plan this month.", "The app crashes when I open settings."]
DURING = ["My parcel has not arrived after two weeks.", "Where can I download my invoice?"]


@pytest.fixture(scope="module")
def database() -> Iterator[tuple[str, TcpProxy]]:
    """The test's own database, and a proxy in front of the PostgreSQL server it lives on."""
    server = make_url(PG_URL)
    with (
        pg_scratch("DATABASE") as name,
        TcpProxy((server.host or "127.0.0.1", server.port or 5432), free_port()) as proxy,
    ):
        yield server.set(database=name).render_as_string(hide_password=False), proxy


@pytest.fixture(scope="module")
def pair(
    tmp_path_factory: pytest.TempPathFactory, database: tuple[str, TcpProxy]
) -> Iterator[list[Replica]]:
    direct, proxy = database
    via_proxy = make_url(direct).set(port=proxy.port).render_as_string(hide_password=False)
    workdir = tmp_path_factory.mktemp("store-outage")
    keys = workdir / "keys"
    keys.write_text(f"{hash_key(CLASSIFY)}\n{hash_key(REVIEWER)} roles=reviewer\n")
    env = {
        "GATEWAY_DATABASE_URL": via_proxy,
        "GATEWAY_API_KEYS_FILE": str(keys),
        "GATEWAY_STORE_TEXT_FOR": "all",
        "GATEWAY_REVIEW_QUEUE_FOR": "all",
        "GATEWAY_CACHE_ENABLED": "false",
        "GATEWAY_REDACT": "false",
        "GATEWAY_ALLOW_UNREDACTED": "true",
    }
    replicas = start_pair(workdir, env, (free_port(), free_port()))
    yield replicas
    for replica in replicas:
        replica.stop()


def classify(replica: Replica, text: str) -> None:
    r = httpx.post(
        f"{replica.base}/classify",
        json={"text": text, "rubric": "support", "redact": False},
        headers={"x-api-key": CLASSIFY},
        timeout=30,
    )
    assert r.status_code == 200, r.text


def queue(replica: Replica) -> httpx.Response:
    return httpx.get(
        f"{replica.base}/review/queue",
        params={"rubric": "support", "limit": 1, "reviewer": "ana"},
        headers={"x-api-key": REVIEWER},
        timeout=30,
    )


def stored(direct: str) -> int:
    store = open_store(direct)
    try:
        return store.queue_size(rubric="support")
    finally:
        store.close()


def wait_for(check: Callable[[], bool], what: str, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        assert time.monotonic() < deadline, what
        time.sleep(0.2)


def test_postgresql_down_mid_run_is_503_then_recovers_losing_nothing(
    pair: list[Replica], database: tuple[str, TcpProxy]
) -> None:
    direct, proxy = database
    for replica, text in zip(pair, BEFORE, strict=True):
        classify(replica, text)
    wait_for(lambda: stored(direct) == len(BEFORE), "the replicas did not store the tickets")
    assert all(queue(replica).status_code == 200 for replica in pair)

    proxy.cut()
    for replica in pair:
        started = time.monotonic()
        r = queue(replica)
        assert r.status_code == 503, r.text
        assert r.json()["error"]["code"] == "store_unavailable"
        assert time.monotonic() - started < 15  # a bounded wait, not a hang
    for replica, text in zip(pair, DURING, strict=True):
        classify(replica, text)  # classification does not need the store

    proxy.restore()
    wait_for(
        lambda: all(queue(replica).status_code == 200 for replica in pair),
        "a replica did not serve the queue again",
    )
    # the recorders kept what they accepted during the outage and wrote it once back
    wait_for(lambda: stored(direct) == len(BEFORE) + len(DURING), "observations were dropped")
    logs = "".join(replica.output(tail=None) for replica in pair)
    assert not [t for t in BEFORE + DURING if t in logs]
