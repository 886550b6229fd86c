"""API keys: stored as sha256 digests (GATEWAY_API_KEYS and the keys file), looked up in
constant time, optionally restricted to some rubric sets, each with its roles.

Roles: ``classify`` (the default), ``feedback`` (POST /feedback), ``reviewer`` (the review queue,
and feedback), ``export`` (GET /labels/export), ``editor`` (rubric editing), ``viewer`` (reads
the web console at /ui; reviewer and editor imply it), ``admin`` (all of them). A plain
classify key cannot read the queue: tickets there are other teams' traffic."""

from __future__ import annotations

import hashlib
import hmac
import re
from pathlib import Path
from typing import Literal, get_args

from fastapi import Request
from pydantic import BaseModel, ConfigDict

from gateway.config import Settings
from gateway.errors import ConfigError
from gateway.rubrics import RubricSet

_HEX64 = re.compile(r"^[0-9a-f]{64}$")
INLINE = RubricSet.INLINE  # the rubric-set name a restricted key must list for inline labels

Role = Literal["classify", "feedback", "reviewer", "export", "editor", "viewer", "admin"]
ROLES: tuple[Role, ...] = get_args(Role)
# what a role brings with it besides itself
_IMPLIES: dict[Role, frozenset[Role]] = {
    "admin": frozenset(ROLES),
    "reviewer": frozenset({"feedback", "viewer"}),
    "editor": frozenset({"viewer"}),
}
DEFAULT_ROLES: frozenset[Role] = frozenset({"classify"})


class ApiKey(BaseModel):
    """One configured key: its digest and, optionally, the rubric sets it may use."""

    model_config = ConfigDict(frozen=True)

    digest: str
    rubrics: frozenset[str] | None = None  # None: every rubric set
    roles: frozenset[Role] = DEFAULT_ROLES

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

    def has(self, role: Role) -> bool:
        return any(role == held or role in _IMPLIES.get(held, ()) for held in self.roles)


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def _parse_digest(raw: str, where: str) -> str:
    digest = raw.strip().lower()
    if not _HEX64.match(digest):
        # Never echo the value: it might be a plaintext key pasted by mistake.
        raise ConfigError(f"{where}: not a sha256 hex digest (64 hex characters)")
    return digest


def _parse_roles(raw: str, where: str) -> frozenset[Role]:
    names = [r.strip() for r in raw.split(",") if r.strip()]
    unknown = [n for n in names if n not in ROLES]
    if unknown or not names:
        raise ConfigError(f"{where}: unknown role(s) {unknown or [raw]}; roles: {list(ROLES)}")
    return frozenset(n for n in ROLES if n in names)


def _parse_line(line: str, where: str) -> ApiKey:
    """``digest [rubric1,rubric2] [roles=reviewer,export]``; ``rubrics=a,b`` also names sets."""
    digest, *fields = line.split()
    rubrics: frozenset[str] | None = None
    roles = DEFAULT_ROLES
    for field in fields:
        name, eq, value = field.partition("=")
        if eq and name == "roles":
            roles = _parse_roles(value, where)
        elif eq and name != "rubrics":
            raise ConfigError(f"{where}: unknown field {name!r}; fields: rubrics=, roles=")
        else:
            listed = value if eq else field
            names = frozenset(r.strip() for r in listed.split(",") if r.strip())
            rubrics = (rubrics or frozenset()) | names
    return ApiKey(digest=_parse_digest(digest, where), rubrics=rubrics or None, roles=roles)


def load_keys(settings: Settings) -> list[ApiKey]:
    """GATEWAY_API_KEYS (digests, any rubric, role classify) plus the keys file: a line
    ``digest [rubric1,rubric2] [roles=reviewer,export]``, ``#`` comments and blank lines
    ignored."""
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
            keys.append(_parse_line(line, f"{path}:{n}"))
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
