"""What the HTTP API adapters (Microsoft Graph, Google Directory) share.

retry_after("120") / retry_after("Wed, 21 Oct 2026 07:28:00 GMT")   -> seconds, or None
TokenCache[AccessToken]()                                            -> tokens per credential
"""

from __future__ import annotations

import asyncio
import email.utils
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Generic, Protocol, TypeVar


class ExpiringToken(Protocol):
    @property
    def expires_in(self) -> float: ...


T = TypeVar("T", bound=ExpiringToken)


def retry_after(value: str | None) -> float | None:
    """``Retry-After`` as seconds (a number or an HTTP date); None when absent or unreadable."""
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


class TokenCache(Generic[T]):
    """Tokens per credential, reused until shortly before they expire (five minutes, or half
    their lifetime if shorter); one fetch at a time per credential, so a batch of 200 mailboxes
    asks for a token once. Keep one per process (``runtime.state``)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._tokens: dict[str, tuple[T, float]] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    async def get(self, key: str, fetch: Callable[[], Awaitable[T]]) -> T:
        cached = self._fresh(key)
        if cached is not None:
            return cached
        async with self._locks.setdefault(key, asyncio.Lock()):
            cached = self._fresh(key)
            if cached is None:
                cached = await fetch()
                self.put(key, cached)
            return cached

    def put(self, key: str, token: T) -> None:
        margin = min(300.0, token.expires_in / 2)
        self._tokens[key] = (token, self._clock() + token.expires_in - margin)

    def _fresh(self, key: str) -> T | None:
        found = self._tokens.get(key)
        return found[0] if found is not None and self._clock() < found[1] else None

    def invalidate(self, key: str) -> None:
        self._tokens.pop(key, None)
