"""Parsing in a worker process: the same answers as in a thread, and a dead worker costs nothing."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator

import pytest

from perch.server.config import Settings
from perch.server.inbox.ingest import parse_batch
from perch.server.inbox.parse_pool import ParsePool, parse_pool
from perch.server.runtime import Runtime

BODIES = [
    b"From: Richard <richard@hooli.example>\r\nSubject: Re: our call\r\n"
    b"Message-ID: <r1@hooli.example>\r\n\r\nTuesday works.\r\n",
    b"From: MAILER-DAEMON@mx.hooli.example\r\nSubject: Undelivered Mail Returned to Sender\r\n"
    b"Content-Type: multipart/report; report-type=delivery-status; boundary=b\r\n\r\n"
    b"--b\r\nContent-Type: text/plain\r\n\r\ngone\r\n--b--\r\n",
]


@pytest.fixture
def pool() -> Iterator[ParsePool]:
    pool = ParsePool(1)
    yield pool
    pool.close()


async def test_a_worker_parses_like_a_thread(pool: ParsePool) -> None:
    parsed = await pool.parse(BODIES, "jared@piedpiper.example")
    assert parsed == parse_batch(BODIES, "jared@piedpiper.example")
    assert [p.verdict.classification for p in parsed] == ["HUMAN_REPLY", "BOUNCE"]
    assert pool._executor is not None and pool._executor._processes  # a process did it


async def test_a_dead_worker_is_replaced_and_the_batch_still_parsed(pool: ParsePool) -> None:
    pool.start()
    assert pool._executor is not None
    (pid,) = list(pool._executor._processes)
    os.kill(pid, signal.SIGKILL)
    parsed = await pool.parse(BODIES, "jared@piedpiper.example")  # the broken pool: a thread
    assert parsed == parse_batch(BODIES, "jared@piedpiper.example")
    again = await pool.parse(BODIES, "jared@piedpiper.example")  # a new worker
    assert again == parsed
    assert pool._executor is not None and pid not in pool._executor._processes


async def test_no_processes_means_a_thread(settings: Settings) -> None:
    settings.inbox_parse_processes = 0
    runtime = Runtime(settings)
    try:
        pool = parse_pool(runtime)
        assert await pool.parse(BODIES, "j@x.example") == parse_batch(BODIES, "j@x.example")
        assert pool._executor is None
    finally:
        await runtime.close()


async def test_closing_the_runtime_stops_the_workers(settings: Settings) -> None:
    runtime = Runtime(settings)
    pool = parse_pool(runtime)
    await pool.parse(BODIES, "j@x.example")
    assert pool._executor is not None
    processes = list(pool._executor._processes.values())
    await runtime.close()
    for process in processes:
        process.join(timeout=10)
        assert not process.is_alive()
