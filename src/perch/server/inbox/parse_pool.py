"""Parsing synced mail in a worker process: the CPU-bound part of a sync, beside the GIL.

A sync fetches, parses and stores at once (see ``sync``). Fetching and storing need the event
loop's process; parsing does not, and in a thread it takes turns with them for the one
interpreter lock. ``PERCH_INBOX_PARSE_PROCESSES`` worker processes (default 1 on a machine with
more than one core, 0 otherwise: 0 parses in a thread) do it instead.

    pool = parse_pool(runtime)
    parsed = await pool.parse([message.body for message in fetched], mailbox.email)

Workers come from a ``forkserver`` (never a fork of the server's own threads) that has
already imported the parser (``ingest``, which imports no database or web code). They start on
first use (or ``start``) and stop with ``Runtime.close``. A worker that dies costs nothing but
time: the batch is parsed in a thread and a new pool is started for the next one. Only the
message bytes go to a worker and only the parsed fields come back.
"""

from __future__ import annotations

import asyncio
import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import TYPE_CHECKING

import structlog

from perch.server.inbox.ingest import Parsed, parse_batch

if TYPE_CHECKING:
    from perch.server.runtime import Runtime

log = structlog.get_logger(__name__)
_STATE_KEY = "inbox.parse_pool"


class ParsePool:
    def __init__(self, processes: int) -> None:
        self.processes = processes
        self._executor: ProcessPoolExecutor | None = None

    def start(self) -> None:
        """Start the workers now rather than at the first batch (idempotent)."""
        if self.processes and self._executor is None:
            context = multiprocessing.get_context("forkserver")
            context.set_forkserver_preload(["perch.server.inbox.ingest"])
            self._executor = ProcessPoolExecutor(self.processes, mp_context=context)
            self._executor.submit(int).result()  # the workers are up and have imported

    async def parse(self, bodies: list[bytes], mailbox_email: str) -> list[Parsed]:
        if not self.processes:
            return await asyncio.to_thread(parse_batch, bodies, mailbox_email)
        if self._executor is None:
            await asyncio.to_thread(self.start)
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._executor, parse_batch, bodies, mailbox_email)
        except BrokenProcessPool:
            log.warning("inbox.parse_pool.broken", messages=len(bodies))
            self.close()
            return await asyncio.to_thread(parse_batch, bodies, mailbox_email)

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = None


def parse_pool(runtime: Runtime) -> ParsePool:
    """The process's pool (one per runtime; ``Runtime.close`` stops it)."""
    pool = runtime.state.get(_STATE_KEY)
    if pool is None:
        pool = ParsePool(runtime.settings.inbox_parse_processes)
        runtime.state[_STATE_KEY] = pool
    return pool
