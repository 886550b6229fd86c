"""Whose address a request comes from: the connecting peer, or what a trusted proxy
(``GATEWAY_TRUSTED_PROXIES``) names in ``X-Forwarded-For``; anyone else's header must not make
a new rate-limit client (issue 11, item 8), through TestClient and through real servers."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import Request
from fastapi.testclient import TestClient
from support.settings import override

from gateway.config import Settings, load_settings
from gateway.errors import ConfigError
from gateway.server import create_app
from gateway.server.security import FORWARDED, TrustedProxies

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
from load import ROOT, free_port, wait_ready

TICKET = {"text": "I was charged twice this month.", "rubric": "support"}


def _request(peer: str, *forwarded: str) -> Request:
    headers = [(b"x-forwarded-for", value.encode("latin-1")) for value in forwarded]
    return Request({"type": "http", "headers": headers, "client": (peer, 5000)})


def test_forwarded_for_is_believed_only_from_a_trusted_proxy() -> None:
    nobody = TrustedProxies(())
    assert nobody.client(_request("127.0.0.1")) == "127.0.0.1"
    assert nobody.client(_request("127.0.0.1", "203.0.113.9")) == "127.0.0.1"
    proxies = TrustedProxies(("127.0.0.1", "10.0.0.0/8"))
    assert proxies.client(_request("127.0.0.1", "203.0.113.9")) == "203.0.113.9"
    assert proxies.client(_request("198.51.100.7", "203.0.113.9")) == "198.51.100.7"
    # A caller writes what it likes first; each proxy appends the peer it saw.
    chain = "198.51.100.1, 203.0.113.9, 10.2.2.2"
    assert proxies.client(_request("10.1.1.1", chain)) == "203.0.113.9"
    assert proxies.client(_request("10.1.1.1", "198.51.100.1", "203.0.113.9:4711")) == "203.0.113.9"
    assert proxies.client(_request("::ffff:127.0.0.1", "[2001:DB8::1]:80")) == "2001:db8::1"
    assert proxies.client(_request("10.1.1.1", "10.3.3.3, 10.2.2.2")) == "10.3.3.3"  # all proxies
    assert proxies.client(_request("127.0.0.1", " , ")) == "127.0.0.1"  # nothing named


def test_a_peer_the_server_took_from_the_header_is_one_client(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # uvicorn without --no-proxy-headers replaces a loopback peer with what the header names
    # before the app sees it; however the header is written, that is one client
    replaced = [
        ("203.0.113.9", "203.0.113.9"),
        ("203.0.113.9", "203.0.113.9:80"),
        ("198.51.100.2", "198.51.100.1, 198.51.100.2"),
        ("2001:db8::1", "[2001:db8::1]:443"),
        ("not-an-address", "not-an-address"),
        ("1.2.3.4:x", "1.2.3.4:x"),
    ]
    with caplog.at_level(logging.WARNING, "gateway"):
        for proxies in (TrustedProxies(()), TrustedProxies(("127.0.0.1",))):
            assert {proxies.client(_request(p, h)) for p, h in replaced} == {FORWARDED}
    assert caplog.text.count("X-Forwarded-For by the server") == 2  # once per guard
    assert "203.0.113.9" not in caplog.text


def test_trusted_proxies_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GATEWAY_TRUSTED_PROXIES", " 127.0.0.1, 10.0.0.0/8 ,::1")
    assert load_settings().access.trusted_proxies == ("127.0.0.1", "10.0.0.0/8", "::1")
    monkeypatch.setenv("GATEWAY_TRUSTED_PROXIES", '["192.168.0.0/16"]')
    assert load_settings().access.trusted_proxies == ("192.168.0.0/16",)
    monkeypatch.delenv("GATEWAY_TRUSTED_PROXIES")
    assert load_settings().access.trusted_proxies == ()
    monkeypatch.setenv("GATEWAY_TRUSTED_PROXIES", "127.0.0.1,proxy.internal")
    with pytest.raises(ConfigError) as err:
        load_settings()
    assert "GATEWAY_TRUSTED_PROXIES" in err.value.message and "entry 1" in err.value.message


def _xff_codes(settings: Settings, forwarded: list[str]) -> list[int]:
    app = create_app(settings, wait=True)
    with TestClient(app, client=("127.0.0.1", 40000)) as client:
        return [
            client.post("/classify", json=TICKET, headers={"x-forwarded-for": ip}).status_code
            for ip in forwarded
        ]


def test_forwarded_for_from_loopback_does_not_make_new_clients(settings: Settings) -> None:
    limited = override(settings, access={"rate_limit_per_minute": 2})
    varying = [f"203.0.113.{i}" for i in range(4)]
    assert _xff_codes(limited, varying) == [200, 200, 429, 429]  # one client: the peer
    behind_proxy = override(limited, access={"trusted_proxies": ["127.0.0.1"]})
    assert _xff_codes(behind_proxy, varying) == [200] * 4  # four clients, one bucket each
    assert _xff_codes(behind_proxy, ["203.0.113.7"] * 3) == [200, 200, 429]


@pytest.mark.parametrize("workers", [1, 2])
def test_cli_serve_leaves_forwarded_headers_to_the_app(
    monkeypatch: pytest.MonkeyPatch, workers: int
) -> None:
    import uvicorn
    from typer.testing import CliRunner

    from gateway.cli import app

    calls: list[dict[str, Any]] = []
    monkeypatch.setattr(uvicorn, "run", lambda target, **options: calls.append(options))
    monkeypatch.setenv("GATEWAY_TRUSTED_PROXIES", "127.0.0.1")
    result = CliRunner().invoke(app, ["serve", "--port", "1", "--workers", str(workers)])
    assert result.exit_code == 0, result.output
    (options,) = calls
    assert options["proxy_headers"] is False


# ---------------------------------------------------------------- through a real server


def _serve_command(how: str, port: int) -> list[str]:
    if how == "uvicorn":  # as a user might start it: uvicorn's default trusts loopback proxies
        return [sys.executable, "-m", "uvicorn", "gateway.asgi:app", "--port", str(port)]
    return [sys.executable, "-m", "gateway.cli", "serve", "--port", str(port)]


@pytest.mark.parametrize(
    ("how", "trusted", "shared"),
    [("uvicorn", "", True), ("serve", "", True), ("serve", "127.0.0.1", False)],
    ids=["uvicorn-no-proxies", "serve-no-proxies", "serve-trusting-loopback"],
)
def test_forwarded_for_from_loopback_through_a_real_server(
    tmp_path: Path, how: str, trusted: str, shared: bool
) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "GATEWAY_CACHE_DIR": str(tmp_path / "cache"),
        "GATEWAY_HOST": "127.0.0.1",
        "GATEWAY_RATE_LIMIT_PER_MINUTE": "2",
        "GATEWAY_TRUSTED_PROXIES": trusted,
        "GATEWAY_REDACT": "false",  # spaCy would only slow the start
    }
    env.pop("GATEWAY_API_KEYS", None)
    env.pop("GATEWAY_API_KEYS_FILE", None)
    log = tmp_path / "server.log"
    with log.open("wb") as out:
        server = subprocess.Popen(
            _serve_command(how, port), cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT
        )
    try:
        wait_ready(base, timeout_s=60)
        codes = [
            httpx.post(
                f"{base}/classify", json=TICKET, headers={"x-forwarded-for": f"203.0.113.{i}"}
            ).status_code
            for i in range(4)
        ]
    finally:
        server.send_signal(signal.SIGINT)
        server.wait(timeout=20)
    assert codes == ([200, 200, 429, 429] if shared else [200] * 4), (codes, log.read_text())
