"""Two real gateway processes on one PostgreSQL store (a database of the test's own): both
migrate it at start-up at once (one does, the other finds it at head), and two reviewers
claiming from the queue on different replicas at the same moment never get one item."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy import create_engine, text
from support.redis_server import free_port
from support.replicas import Replica, start_pair
from support.store import PG_URL, pg_scratch

from gateway.server.security import hash_key
from gateway.store import open_store

pytestmark = pytest.mark.slow

CLASSIFY = "k-replicas-store-classify"
REVIEWER = "k-replicas-store-reviewer"
TICKETS = [
    "I was charged twice for my plan this month.",
    "The app crashes when I open settings.",
    "I cannot log in after resetting my password.",
    "My parcel has not arrived after two weeks.",
    "How do I return the shoes I ordered?",
    "Do you offer a discount for annual plans?",
    "Your new dashboard is lovely, thanks.",
    "Where can I download last month's invoice?",
    "The export button gives an error 500.",
    "Please close my account and delete my data.",
    "The tracking number does not work.",
    "Can I get a refund for the unused months?",
]


@pytest.fixture(scope="module")
def database_url() -> Iterator[str]:
    with pg_scratch("DATABASE") as name:
        yield PG_URL.rsplit("/", 1)[0] + f"/{name}"


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory, database_url: str) -> Iterator[list[Replica]]:
    workdir = tmp_path_factory.mktemp("store-pair")
    keys = workdir / "keys"
    keys.write_text(f"{hash_key(CLASSIFY)}\n{hash_key(REVIEWER)} roles=reviewer\n")
    env = {
        "GATEWAY_DATABASE_URL": database_url,
        "GATEWAY_API_KEYS_FILE": str(keys),
        "GATEWAY_STORE_TEXT_FOR": "all",
        "GATEWAY_REVIEW_QUEUE_FOR": "all",
        "GATEWAY_CACHE_ENABLED": "false",
        "GATEWAY_REDACT": "false",  # spaCy would only slow the start
        "GATEWAY_ALLOW_UNREDACTED": "true",
    }
    replicas = start_pair(workdir, env, (free_port(), free_port()))
    yield replicas
    for replica in replicas:
        replica.stop()


def test_both_replicas_start_on_one_database_migrated_once(
    pair: list[Replica], database_url: str
) -> None:
    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            versions = conn.execute(text("SELECT version_num FROM alembic_version")).all()
    finally:
        engine.dispose()
    assert len(versions) == 1
    for replica in pair:
        assert httpx.get(f"{replica.base}/healthz", timeout=5).json()["status"] == "ready"


async def _claim(replica: Replica, reviewer: str) -> list[dict[str, object]]:
    async with httpx.AsyncClient(base_url=replica.base, timeout=30) as client:
        r = await client.get(
            "/review/queue",
            params={"rubric": "support", "limit": 100, "reviewer": reviewer},
            headers={"x-api-key": REVIEWER},
        )
    assert r.status_code == 200, r.text
    items: list[dict[str, object]] = r.json()["items"]
    return items


def test_two_reviewers_on_two_replicas_never_claim_one_item(
    pair: list[Replica], database_url: str
) -> None:
    a, b = pair
    for i, body in enumerate(TICKETS):  # spread over both replicas
        replica = pair[i % 2]
        r = httpx.post(
            f"{replica.base}/classify",
            json={"text": body, "rubric": "support", "redact": False},
            headers={"x-api-key": CLASSIFY},
            timeout=30,
        )
        assert r.status_code == 200, r.text
    store = open_store(database_url)
    try:  # each replica's writer stores its responses behind them
        deadline = time.monotonic() + 30
        while store.queue_size(rubric="support") < len(TICKETS):
            assert time.monotonic() < deadline, "the replicas did not store every ticket"
            time.sleep(0.1)
    finally:
        store.close()

    async def both() -> tuple[list[dict[str, object]], list[dict[str, object]]]:
        ana, bob = await asyncio.gather(_claim(a, "ana"), _claim(b, "bob"))
        return ana, bob

    ana, bob = asyncio.run(both())
    ana_ids, bob_ids = {i["id"] for i in ana}, {i["id"] for i in bob}
    assert not ana_ids & bob_ids
    assert len(ana_ids | bob_ids) == len(TICKETS)  # between them, every item, each once

    # the other reviewer, on the other replica, cannot label an item one holds
    holder, other, replica = ("ana", "bob", b) if ana_ids else ("bob", "ana", a)
    held = sorted(ana_ids or bob_ids)[0]
    r = httpx.post(
        f"{replica.base}/review/{held}/label",
        json={"label": "billing", "reviewer": other},
        headers={"x-api-key": REVIEWER},
        timeout=30,
    )
    assert r.status_code == 409, (holder, r.text)
    assert r.json()["error"]["code"] == "lease_held"


def test_logs_hold_no_ticket_text(pair: list[Replica]) -> None:
    logs = "".join(replica.output(tail=None) for replica in pair)
    assert logs  # the replicas did log (access lines, start-up)
    assert not [t for t in TICKETS if t in logs]
