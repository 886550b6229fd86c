"""Each sender verified the way it signs; every comparison is constant-time.

Zendesk   X-Zendesk-Webhook-Signature: base64(HMAC-SHA256(secret, timestamp + body)), with
          X-Zendesk-Webhook-Signature-Timestamp, refused when older than the maximum age
Intercom  X-Hub-Signature: "sha1=" + hex(HMAC-SHA1(client secret, body))
Help Scout X-HelpScout-Signature: base64(HMAC-SHA1(secret, body))
Freshdesk signs nothing: a secret header, or basic auth whose password is the secret
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Mapping
from datetime import datetime

from gateway.errors import SignatureInvalidError


def _same(expected: str | bytes, given: str | bytes | None) -> bool:
    if given is None:
        return False
    a = expected.encode() if isinstance(expected, str) else expected
    b = given.encode() if isinstance(given, str) else given
    return hmac.compare_digest(a, b)


def _refuse(why: str) -> SignatureInvalidError:
    return SignatureInvalidError(f"webhook refused: {why}")


def zendesk_signature(secret: str, timestamp: str, body: bytes) -> str:
    digest = hmac.new(secret.encode(), timestamp.encode() + body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def verify_zendesk(
    headers: Mapping[str, str], body: bytes, secret: str, *, now: float, max_age_s: float
) -> None:
    stamp = headers.get("x-zendesk-webhook-signature-timestamp")
    if not stamp:
        raise _refuse("no X-Zendesk-Webhook-Signature-Timestamp")
    if not _same(
        zendesk_signature(secret, stamp, body), headers.get("x-zendesk-webhook-signature")
    ):
        raise _refuse("the signature does not match")
    try:
        at = datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()
    except ValueError:
        raise _refuse("the signature timestamp is not ISO 8601") from None
    if abs(now - at) > max_age_s:
        raise _refuse(f"the signature timestamp is more than {max_age_s:.0f} s old")


def intercom_signature(secret: str, body: bytes) -> str:
    return "sha1=" + hmac.new(secret.encode(), body, hashlib.sha1).hexdigest()


def verify_intercom(headers: Mapping[str, str], body: bytes, secret: str) -> None:
    if not _same(intercom_signature(secret, body), headers.get("x-hub-signature")):
        raise _refuse("X-Hub-Signature does not match")


def helpscout_signature(secret: str, body: bytes) -> str:
    digest = hmac.new(secret.encode(), body, hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def verify_helpscout(headers: Mapping[str, str], body: bytes, secret: str) -> None:
    if not _same(helpscout_signature(secret, body), headers.get("x-helpscout-signature")):
        raise _refuse("X-HelpScout-Signature does not match")


def verify_freshdesk(headers: Mapping[str, str], secret: str, *, basic: bool, header: str) -> None:
    if not basic:
        if not _same(secret, headers.get(header.lower())):
            raise _refuse(f"the {header} header does not match")
        return
    auth = headers.get("authorization", "")
    scheme, _, encoded = auth.partition(" ")
    try:
        decoded = base64.b64decode(encoded, validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        decoded = ""
    if scheme.lower() != "basic" or not _same(secret, decoded.partition(":")[2]):
        raise _refuse("basic auth does not match")
