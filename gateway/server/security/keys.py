"""API keys: stored as sha256 digests (GATEWAY_API_KEYS and the keys file), looked up in
constant time, optionally restricted to some rubric sets."""

from __future__ import annotations

import hashlib
import hmac
import re
from pathlib import Path

from fastapi import Request
from pydantic import BaseModel, ConfigDict

from gateway.config import Settings
from gateway.errors import ConfigError
from gateway.rubrics import RubricSet

_HEX64 = re.compile(r"^[0-9a-f]{64}$")
INLINE = RubricSet.INLINE  # the rubric-set name a restricted key must list for inline labels


class ApiKey(BaseModel):
    """One configured key: its digest and, optionally, the rubric sets it may use."""

    model_config = ConfigDict(frozen=True)

    digest: str
    rubrics: frozenset[str] | None = None  # None: every rubric set

    @property
    def id(self) -> str:
        # Short, non-reversible handle for logs and rate-limit buckets.
        return self.digest[:12]

    @property
    def restricted(self) -> bool:
        """Whether the key is limited to some rubric sets."""
        return self.rubrics is not None

    def allows(self, rubric: str) -> bool:
        return self.rubrics is None or rubric in self.rubrics


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def _parse_digest(raw: str, where: str) -> str:
    digest = raw.strip().lower()
    if not _HEX64.match(digest):
        # Never echo the value: it might be a plaintext key pasted by mistake.
        raise ConfigError(f"{where}: not a sha256 hex digest (64 hex characters)")
    return digest


def load_keys(settings: Settings) -> list[ApiKey]:
    """GATEWAY_API_KEYS (digests, any rubric) plus the keys file: ``digest [rubric1,rubric2]``
    a line, ``#`` comments and blank lines ignored."""
    keys = [
        ApiKey(digest=_parse_digest(d, f"GATEWAY_API_KEYS[{i}]"))
        for i, d in enumerate(settings.access.api_keys)
    ]
    path = settings.access.api_keys_file
    if path is not None:
        try:
            lines = Path(path).read_text().splitlines()
        except OSError as exc:
            raise ConfigError(f"api keys file {path}: {type(exc).__name__}") from None
        for n, line in enumerate(lines, 1):
            line = line.split("#", 1)[0].strip()
            if not line:
                continue
            digest, _, rest = line.partition(" ")
            names = frozenset(r.strip() for r in rest.split(",") if r.strip())
            keys.append(ApiKey(digest=_parse_digest(digest, f"{path}:{n}"), rubrics=names or None))
    return keys


def load_metrics_keys(settings: Settings) -> list[ApiKey]:
    """GATEWAY_METRICS_KEYS: digests of the keys a scraper presents; they open /metrics only."""
    return [
        ApiKey(digest=_parse_digest(d, f"GATEWAY_METRICS_KEYS[{i}]"))
        for i, d in enumerate(settings.access.metrics_keys)
    ]


class KeyStore:
    def __init__(self, keys: list[ApiKey]) -> None:
        self.keys = keys

    @classmethod
    def from_settings(cls, settings: Settings) -> KeyStore:
        return cls(load_keys(settings))

    @property
    def required(self) -> bool:
        return bool(self.keys)

    def lookup(self, presented: str) -> ApiKey | None:
        """Constant-time over digests; every key is compared so timing does not say which."""
        digest = hash_key(presented).encode()
        found = None
        for key in self.keys:
            if hmac.compare_digest(digest, key.digest.encode()):
                found = key
        return found


def presented_key(request: Request) -> str | None:
    key = request.headers.get("x-api-key")
    if key:
        return key.strip()
    auth = request.headers.get("authorization", "")
    scheme, _, token = auth.partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    return None
