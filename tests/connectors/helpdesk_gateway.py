"""What the connector tests share: the environment the connections name, a connection entry,
and the running gateway they talk to."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from gateway.store import JobRecord, Store

ENV = {
    "HD_WEBHOOK_SECRET": "dGhpc19zZWNyZXRfaXNfZm9yX3Rlc3Rpbmdfb25seQ==",
    "HD_API_TOKEN": "api-token-for-tests",
    "HD_API_USER": "bot@example.com",
}


def connection(name: str, helpdesk: str, base_url: str, **extra: Any) -> dict[str, Any]:
    return {
        "name": name,
        "helpdesk": helpdesk,
        "rubric": "support",
        "base_url": base_url,
        "webhook_secret_env": "HD_WEBHOOK_SECRET",
        "api_token_env": "HD_API_TOKEN",
        **extra,
    }


class Gateway:
    def __init__(self, client: TestClient) -> None:
        self.client = client

    @property
    def store(self) -> Store:
        store = self.client.app.state.gateway.store  # type: ignore[attr-defined]
        assert store is not None
        return store

    def post(self, path: str, body: bytes, headers: dict[str, str]) -> Any:
        return self.client.post(path, content=body, headers=headers)

    def jobs(self) -> list[JobRecord]:
        return self.store.jobs(limit=1000)

    def settled(self) -> bool:
        """No job is queued or running."""
        counts = self.store.job_counts()
        return not counts.get("queued") and not counts.get("running")

    def flush(self) -> None:
        recorder = self.client.app.state.gateway.recorder  # type: ignore[attr-defined]
        assert recorder.flush(10)
