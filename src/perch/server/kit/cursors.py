"""Opaque, signed pagination cursors: only cursors Perch issued are accepted.

A cursor carries a position (e.g. the last id seen) and is bound to the query it came from, so a
cursor from one filter set is refused for another. It is signed with HMAC-SHA256 under a key
derived from the first secret key; tampering, truncation or a foreign cursor gives
``InvalidCursor``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any


class InvalidCursor(ValueError):
    """The cursor was not issued by this Perch for this query."""


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class CursorCodec:
    def __init__(self, secret: str, purpose: str) -> None:
        self._key = hashlib.sha256(f"perch-cursor:{purpose}:{secret}".encode()).digest()

    def _sign(self, payload: bytes) -> bytes:
        return hmac.new(self._key, payload, hashlib.sha256).digest()[:16]

    def encode(self, position: dict[str, Any], query: dict[str, Any]) -> str:
        payload = json.dumps({"p": position, "q": _fingerprint(query)}, separators=(",", ":"))
        raw = payload.encode()
        return f"{_b64(raw)}.{_b64(self._sign(raw))}"

    def decode(self, cursor: str, query: dict[str, Any]) -> dict[str, Any]:
        try:
            body, signature = cursor.split(".")
            raw = _unb64(body)
            valid = hmac.compare_digest(_unb64(signature), self._sign(raw))
            data = json.loads(raw) if valid else None
        except (ValueError, UnicodeDecodeError) as e:
            raise InvalidCursor("malformed cursor") from e
        if not isinstance(data, dict) or data.get("q") != _fingerprint(query):
            raise InvalidCursor("cursor was not issued for this query")
        position = data.get("p")
        if not isinstance(position, dict):
            raise InvalidCursor("malformed cursor")
        return position


def _fingerprint(query: dict[str, Any]) -> str:
    canonical = json.dumps(query, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]
