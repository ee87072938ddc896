"""What every MicrosoftGraph of a process shares: tokens and concurrency limits."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass, field

from perch.server.integrations.microsoft.models import AccessToken

MAILBOX_CONCURRENCY = 4


class TokenCache:
    """Tokens per credential, reused until shortly before they expire (five minutes, or half
    their lifetime if shorter); one fetch at a time per credential, so a batch of 200
    mailboxes asks the identity platform once."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._tokens: dict[str, tuple[AccessToken, float]] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    async def get(self, key: str, fetch: Callable[[], Awaitable[AccessToken]]) -> AccessToken:
        cached = self._fresh(key)
        if cached is not None:
            return cached
        async with self._locks.setdefault(key, asyncio.Lock()):
            cached = self._fresh(key)
            if cached is None:
                cached = await fetch()
                margin = min(300.0, cached.expires_in / 2)
                self._tokens[key] = (cached, self._clock() + cached.expires_in - margin)
            return cached

    def _fresh(self, key: str) -> AccessToken | None:
        found = self._tokens.get(key)
        return found[0] if found is not None and self._clock() < found[1] else None

    def invalidate(self, key: str) -> None:
        self._tokens.pop(key, None)


class MailboxLimits:
    """At most ``per_mailbox`` requests at once per mailbox (Graph's MailboxConcurrency) and
    ``overall`` HTTP requests at once to Microsoft in the process."""

    def __init__(self, per_mailbox: int = MAILBOX_CONCURRENCY, overall: int = 64) -> None:
        self.per_mailbox = per_mailbox
        self._overall = asyncio.Semaphore(overall)
        self._mailboxes: dict[str, tuple[asyncio.Semaphore, int]] = {}

    @contextlib.asynccontextmanager
    async def slot(self, *mailboxes: str) -> AsyncIterator[None]:
        """One HTTP request working in these mailboxes (a ``$batch`` may name several, and one
        mailbox more than once). Slots are taken in sorted order, so two requests never wait
        for each other's mailboxes."""
        keys = sorted(mailboxes)
        semaphores = [self._enter(key) for key in keys]
        try:
            async with contextlib.AsyncExitStack() as stack:
                for semaphore in semaphores:
                    await stack.enter_async_context(semaphore)
                async with self._overall:
                    yield
        finally:
            for key in keys:
                self._leave(key)

    def _enter(self, mailbox: str) -> asyncio.Semaphore:
        semaphore, users = self._mailboxes.get(mailbox, (None, 0))
        semaphore = semaphore or asyncio.Semaphore(self.per_mailbox)
        self._mailboxes[mailbox] = (semaphore, users + 1)
        return semaphore

    def _leave(self, mailbox: str) -> None:
        semaphore, users = self._mailboxes[mailbox]
        if users <= 1:
            del self._mailboxes[mailbox]
        else:
            self._mailboxes[mailbox] = (semaphore, users - 1)


def mailbox_keys(tenant_id: str, mailboxes: Iterable[str | None]) -> list[str]:
    return [f"{tenant_id}/{m}".lower() for m in mailboxes if m is not None]


@dataclass
class GraphShared:
    """Keep one per process (``runtime.state``)."""

    tokens: TokenCache = field(default_factory=TokenCache)
    limits: MailboxLimits = field(default_factory=MailboxLimits)
