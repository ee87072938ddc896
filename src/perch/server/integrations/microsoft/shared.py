"""What every MicrosoftGraph of a process shares: tokens and concurrency limits."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field

from perch.server.integrations import httpkit

MAILBOX_CONCURRENCY = 4


TokenCache = httpkit.TokenCache  # per process, in GraphShared: TokenCache[AccessToken]()


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
