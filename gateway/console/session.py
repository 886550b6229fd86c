"""Who is using the console: sign-in with an API key, the signed session cookie, roles, CSRF.

A browser signs in once with a key of the keys file; the cookie then holds the key's sha256
digest (never the key) and a CSRF token, signed with a secret kept beside the store's data
(``<GATEWAY_DATA_DIR>/console-secret``, made on first use, shared by every worker). Each request
looks the digest up among the keys configured now, so removing a key ends its sessions.

On a keyless gateway (the API is open and bound to loopback) the console is open too, with
every role, as the API is; the CSRF token is then an HMAC of the caller's address, so a page
on another site still cannot post to it.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import threading
from pathlib import Path
from typing import Annotated

from fastapi import Depends, Request
from itsdangerous import BadSignature, URLSafeTimedSerializer
from pydantic import BaseModel, ValidationError

from gateway.server.deps import app_state
from gateway.server.security import ApiKey, Guard, Principal, Role

COOKIE = "rubric_console"
SESSION_MAX_AGE_S = 12 * 3600
CSRF_FIELD = "csrf"
CSRF_HEADER = "x-csrf-token"


class SignInRequired(Exception):  # noqa: N818 (a redirect, not an error)
    """No valid session on a keyed gateway: answered with a 303 to the sign-in page."""


class ConsoleForbidden(Exception):  # noqa: N818 (answered with an HTML 403 page)
    """The signed-in key lacks a role, or a form came without its CSRF token."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class _Cookie(BaseModel):
    digest: str
    csrf: str


class ConsoleUser(BaseModel):
    """The caller of one console request."""

    principal: Principal
    csrf: str
    keyed: bool  # False: a keyless (loopback-only) gateway, where every role is held

    def can(self, role: Role) -> bool:
        return self.principal.has(role)

    def require(self, role: Role) -> None:
        if not self.can(role):
            raise ConsoleForbidden(f"this key does not have the {role!r} role")

    @property
    def who(self) -> str:
        return self.principal.who


def _read_or_make_secret(path: Path) -> bytes:
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_bytes()
    with os.fdopen(fd, "wb") as file:
        file.write(secrets.token_bytes(32))
    return path.read_bytes()


class Sessions:
    """Signs and reads session cookies; the secret is read (or made) on first use."""

    def __init__(self, secret: bytes | None = None) -> None:
        self._secret = secret
        self._lock = threading.Lock()

    def _key(self, request: Request) -> bytes:
        if self._secret is None:
            with self._lock:
                if self._secret is None:
                    data_dir = app_state(request).settings.store.data_dir
                    self._secret = _read_or_make_secret(data_dir / "console-secret")
        return self._secret

    def _signer(self, request: Request) -> URLSafeTimedSerializer:
        return URLSafeTimedSerializer(self._key(request), salt="rubric-console-session")

    def issue(self, request: Request, key: ApiKey) -> str:
        """The cookie value for a key that has just signed in."""
        payload = _Cookie(digest=key.digest, csrf=secrets.token_urlsafe(24))
        return str(self._signer(request).dumps(payload.model_dump()))

    def read(self, request: Request) -> _Cookie | None:
        raw = request.cookies.get(COOKIE)
        if not raw:
            return None
        try:
            data = self._signer(request).loads(raw, max_age=SESSION_MAX_AGE_S)
            return _Cookie.model_validate(data)
        except (BadSignature, ValidationError):
            return None

    def anonymous_csrf(self, request: Request, who: str) -> str:
        return hmac.new(self._key(request), who.encode(), hashlib.sha256).hexdigest()[:32]

    def sign_token(self, request: Request) -> str:
        """A short-lived token for the sign-in form (which has no session yet)."""
        signer = URLSafeTimedSerializer(self._key(request), salt="rubric-console-signin")
        return str(signer.dumps(secrets.token_urlsafe(8)))

    def check_sign_token(self, request: Request, token: str) -> bool:
        signer = URLSafeTimedSerializer(self._key(request), salt="rubric-console-signin")
        try:
            signer.loads(token, max_age=3600)
        except BadSignature:
            return False
        return True


def sessions_of(request: Request) -> Sessions:
    sessions: Sessions = request.app.state.console_sessions
    return sessions


def _guard(request: Request) -> Guard:
    guard: Guard = request.app.state.guard
    return guard


def find_key(guard: Guard, digest: str) -> ApiKey | None:
    """The configured key with this digest; constant time over the keys."""
    found = None
    for key in guard.keys.keys:
        if hmac.compare_digest(key.digest.encode(), digest.encode()):
            found = key
    return found


def console_user(request: Request) -> ConsoleUser:
    """FastAPI dependency of every console page: the caller, or a 303 to the sign-in page."""
    guard = _guard(request)
    sessions = sessions_of(request)
    if not guard.keys.required:
        who = f"anonymous:{guard.proxies.client(request)}"
        return ConsoleUser(
            principal=Principal(id=who), csrf=sessions.anonymous_csrf(request, who), keyed=False
        )
    cookie = sessions.read(request)
    key = find_key(guard, cookie.digest) if cookie is not None else None
    if cookie is None or key is None:
        raise SignInRequired
    if not key.has("viewer"):
        raise ConsoleForbidden("this key has no console role (viewer, reviewer or editor)")
    return ConsoleUser(principal=Principal(id=key.id, key=key), csrf=cookie.csrf, keyed=True)


async def checked_user(request: Request) -> ConsoleUser:
    """``console_user`` for a request that changes something: its CSRF token (form field
    ``csrf`` or header ``X-CSRF-Token``) must match the session's, else 403."""
    user = console_user(request)
    sent = request.headers.get(CSRF_HEADER)
    if not sent:
        form = await request.form()
        value = form.get(CSRF_FIELD)
        sent = value if isinstance(value, str) else None
    if not sent or not hmac.compare_digest(sent.encode(), user.csrf.encode()):
        raise ConsoleForbidden("this form has no valid CSRF token; reload the page and retry")
    return user


Viewer = Annotated[ConsoleUser, Depends(console_user)]
Changer = Annotated[ConsoleUser, Depends(checked_user)]
