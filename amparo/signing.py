"""HMAC-SHA256 signatures for webhooks, both ways: referrals we send, answers we receive.

The header is `t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>." + body>` (the shape Stripe
and others use): signing the timestamp with the body lets the receiver refuse a replayed
request once it is older than the tolerance, and the exact bytes sent are what is signed,
so the receiver verifies the body before parsing it.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from typing import Literal

SIGNATURE_HEADER = "Amparo-Signature"
IDEMPOTENCY_HEADER = "Idempotency-Key"
REFERRAL_HEADER = "Amparo-Referral-Id"
SCHEME = "v1"
TOLERANCE_SECONDS = 300
# Longer headers are refused unparsed: a few signatures (during a key rotation) fit well.
MAX_HEADER_LENGTH = 1024
MAX_TIMESTAMP = 10**12 - 1
_TIMESTAMP = re.compile(r"^[0-9]{1,12}$")
_HEX_DIGEST = re.compile(r"^[0-9a-f]{64}$")


SignatureCode = Literal[
    "signature_missing", "signature_malformed", "signature_invalid", "signature_stale"
]


class SignatureError(ValueError):
    """A request whose signature does not hold; `code` says why, for a 401 answer."""

    def __init__(self, code: SignatureCode) -> None:
        super().__init__(code)
        self.code: SignatureCode = code


def _digest(secret: str, body: bytes, timestamp: int) -> str:
    signed = f"{timestamp}.".encode() + body
    return hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


def sign(secret: str, body: bytes, timestamp: int) -> str:
    """The signature header value for `body` sent at `timestamp` (unix seconds)."""
    if not 0 <= timestamp <= MAX_TIMESTAMP:
        raise ValueError("timestamp must be unix seconds of at most 12 digits")
    return f"t={timestamp},{SCHEME}={_digest(secret, body, timestamp)}"


def _parse(header: str) -> tuple[int, list[str]]:
    """The timestamp and the v1 digests; unknown schemes are skipped, so a sender can add
    a new one (or several v1 during a secret rotation) without breaking receivers."""
    if len(header) > MAX_HEADER_LENGTH:
        raise SignatureError("signature_malformed")
    timestamps, digests = [], []
    for part in header.split(","):
        key, sep, value = part.strip().partition("=")
        if not sep:
            raise SignatureError("signature_malformed")
        if key == "t":
            timestamps.append(value)
        elif key == SCHEME:
            digests.append(value)
    if len(timestamps) != 1 or not _TIMESTAMP.match(timestamps[0]) or not digests:
        raise SignatureError("signature_malformed")
    if not all(_HEX_DIGEST.match(d) for d in digests):
        raise SignatureError("signature_malformed")
    return int(timestamps[0]), digests


def verify(
    secret: str,
    body: bytes,
    header: str | None,
    *,
    now: int,
    tolerance_seconds: int = TOLERANCE_SECONDS,
) -> int:
    """The signed timestamp, if `header` signs `body` with `secret` within the tolerance
    of `now` (either way: a sender's clock may run ahead); else `SignatureError`."""
    if header is None or not header.strip():
        raise SignatureError("signature_missing")
    timestamp, digests = _parse(header)
    expected = _digest(secret, body, timestamp)
    # Every candidate is compared, in constant time each, so timing tells nothing either.
    matches = [hmac.compare_digest(expected, digest) for digest in digests]
    if not any(matches):
        raise SignatureError("signature_invalid")
    if abs(now - timestamp) > tolerance_seconds:
        raise SignatureError("signature_stale")
    return timestamp
