"""The job queue on the PostgreSQL server of the machine (127.0.0.1:5432): a Zendesk webhook
queued, classified and written back once, replays included, with the store on PostgreSQL."""

from __future__ import annotations

from fake_server import wait_until
from fake_zendesk import FakeZendesk, event_body, signed
from helpdesk_gateway import connection
from support.store import pg_scratch


def test_zendesk_flow_on_postgresql(make_gateway) -> None:
    with pg_scratch("DATABASE") as name, FakeZendesk() as fake:
        fake.add_ticket("55", "Late package", "Where is my package? Shipping is a week late.")
        url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
        with make_gateway([connection("acme", "zendesk", fake.url)], database_url=url) as gw:
            body = event_body("55")
            assert gw.post("/webhooks/zendesk/acme", body, signed(body)).status_code == 202
            assert gw.post("/webhooks/zendesk/acme", body, signed(body)).status_code == 200
            wait_until(lambda: fake.writes() and gw.settled())
            [put] = fake.writes()
            assert put.body["ticket"]["additional_tags"] == ["rg_suggested_shipping"]
            assert gw.store.engine.dialect.name == "postgresql"
            [job] = gw.jobs()
            assert job.state == "done" and job.attempts == 1
