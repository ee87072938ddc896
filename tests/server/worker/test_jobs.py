"""Durable jobs: delivered after commit, claimed once, retried, recovered after a crash."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select, update

from perch.server.kit.timefmt import utcnow
from perch.server.models import Job, JobStatus
from perch.server.runtime import Runtime
from perch.server.worker.queue import enqueue
from perch.server.worker.registry import jobs
from perch.server.worker.runner import JobContext, JobFailed, run_job
from perch.server.worker.scheduler import Scheduler, recover_abandoned

RUNS: list[tuple[str, Any]] = []
GATE: dict[str, asyncio.Event] = {}


@jobs.job("test.record", max_attempts=3)
async def record(ctx: JobContext) -> None:
    RUNS.append(("record", ctx.payload.get("n")))


@jobs.job("test.flaky", max_attempts=3)
async def flaky(ctx: JobContext) -> None:
    RUNS.append(("flaky", ctx.attempt))
    if ctx.attempt < 2:
        raise ConnectionError("try again")


@jobs.job("test.broken", max_attempts=5)
async def broken(ctx: JobContext) -> None:
    RUNS.append(("broken", ctx.attempt))
    raise JobFailed("never works")


@jobs.job("test.slow", max_attempts=2)
async def slow(ctx: JobContext) -> None:
    RUNS.append(("slow", ctx.attempt))
    await GATE.setdefault("slow", asyncio.Event()).wait()


@pytest.fixture(autouse=True)
def _reset() -> None:
    RUNS.clear()
    GATE.clear()


async def _job(runtime: Runtime, job_id: int) -> Job:
    async with runtime.session() as session:
        job = await session.get(Job, job_id)
        assert job is not None
        return job


async def _until(predicate: Any, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not await predicate():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)


async def test_job_runs_after_commit_through_the_broker(runtime: Runtime) -> None:
    await runtime.start_broker(worker=True)
    async with runtime.session() as session:
        job = await enqueue(session, "test.record", {"n": 1})
        await asyncio.sleep(0.05)
        assert RUNS == []  # not delivered before the transaction commits

    async def done() -> bool:
        return (await _job(runtime, job.id)).status == JobStatus.done

    await _until(done)
    assert RUNS == [("record", 1)]


async def test_rolled_back_job_never_runs(runtime: Runtime) -> None:
    await runtime.start_broker(worker=True)
    with pytest.raises(RuntimeError):
        async with runtime.session() as session:
            await enqueue(session, "test.record", {"n": 2})
            raise RuntimeError("request failed")
    await asyncio.sleep(0.1)
    async with runtime.session() as session:
        assert (await session.execute(select(Job))).first() is None
    assert RUNS == []


async def test_a_job_is_claimed_once(runtime: Runtime) -> None:
    async with runtime.session() as session:
        job = await enqueue(session, "test.record", {"n": 3})
    ran = await asyncio.gather(*(run_job(runtime, job.id) for _ in range(5)))
    assert sum(ran) == 1
    assert RUNS == [("record", 3)]
    assert await run_job(runtime, job.id) is False  # done jobs never run again


async def test_dedupe_key_keeps_one_unfinished_job(runtime: Runtime) -> None:
    async with runtime.session() as session:
        first = await enqueue(session, "test.record", {"n": 1}, dedupe_key="sync:7")
        second = await enqueue(session, "test.record", {"n": 2}, dedupe_key="sync:7")
    assert first.id == second.id
    await run_job(runtime, first.id)
    async with runtime.session() as session:
        third = await enqueue(session, "test.record", {"n": 3}, dedupe_key="sync:7")
    assert third.id != first.id


async def test_transient_failure_is_retried_with_backoff(runtime: Runtime) -> None:
    async with runtime.session() as session:
        job = await enqueue(session, "test.flaky")
    await run_job(runtime, job.id)
    failed_once = await _job(runtime, job.id)
    assert failed_once.status == JobStatus.pending
    assert failed_once.run_after > utcnow()
    assert "try again" in (failed_once.last_error or "")
    assert await run_job(runtime, job.id) is False  # not due yet
    async with runtime.session() as session:
        await session.execute(update(Job).where(Job.id == job.id).values(run_after=utcnow()))
    await run_job(runtime, job.id)
    assert (await _job(runtime, job.id)).status == JobStatus.done
    assert RUNS == [("flaky", 1), ("flaky", 2)]


async def test_permanent_failure_is_not_retried(runtime: Runtime) -> None:
    async with runtime.session() as session:
        job = await enqueue(session, "test.broken")
    await run_job(runtime, job.id)
    final = await _job(runtime, job.id)
    assert final.status == JobStatus.failed and final.last_error == "never works"
    assert RUNS == [("broken", 1)]


async def test_a_lapsed_lease_is_handed_out_again(runtime: Runtime) -> None:
    """A worker that died mid-job stops renewing; the sweep re-delivers and another runs it."""
    async with runtime.session() as session:
        job = await enqueue(session, "test.record", {"n": 9})
        await session.flush()
        stmt = update(Job).where(Job.id == job.id)
        await session.execute(
            stmt.values(
                status=JobStatus.running,
                run_by="dead-node",
                locked_until=utcnow() - timedelta(seconds=1),
            )
        )
    delivered: list[int] = []

    async def dispatch(job_id: int) -> None:
        delivered.append(job_id)
        await run_job(runtime, job_id)

    runtime.dispatch = dispatch  # type: ignore[method-assign]
    assert await Scheduler(runtime).sweep() == [job.id]
    assert delivered == [job.id]
    final = await _job(runtime, job.id)
    assert final.status == JobStatus.done and final.run_by == runtime.node


async def test_recover_abandoned_after_a_crash(runtime: Runtime) -> None:
    async with runtime.session() as session:
        job = await enqueue(session, "test.record", {"n": 4})
    async with runtime.session() as session:
        await session.execute(
            update(Job)
            .where(Job.id == job.id)
            .values(status=JobStatus.running, locked_until=utcnow() + timedelta(hours=1))
        )
    assert await recover_abandoned(runtime) == 1
    assert await run_job(runtime, job.id) is True


async def test_heartbeat_keeps_a_long_job_leased(runtime: Runtime) -> None:
    runtime.settings.job_lease = timedelta(seconds=0.6)
    async with runtime.session() as session:
        job = await enqueue(session, "test.slow")
    task = asyncio.create_task(run_job(runtime, job.id))
    await asyncio.sleep(1.5)  # longer than the lease: only the heartbeat keeps it claimed
    assert await run_job(runtime, job.id) is False
    GATE["slow"].set()
    assert await task is True
    assert RUNS == [("slow", 1)]


async def test_only_one_scheduler_leads(runtime: Runtime, settings: Any) -> None:
    other = Runtime(settings)
    try:
        first, second = Scheduler(runtime), Scheduler(other)
        assert await first.acquire_lease() is True
        assert await second.acquire_lease() is False
        assert await first.acquire_lease() is True  # renewal
        await first.release()
        assert await second.acquire_lease() is True
        assert await first.acquire_lease() is False
    finally:
        await other.close()


async def test_periodic_producer_runs_on_the_leader_only(runtime: Runtime, settings: Any) -> None:
    runtime.settings.heartbeat_interval = timedelta(seconds=0)
    other = Runtime(settings)
    try:
        leader, follower = Scheduler(runtime), Scheduler(other)
        await leader.tick()
        await follower.tick()
        async with runtime.session() as session:
            beats = (
                (await session.execute(select(Job).where(Job.kind == "system.heartbeat")))
                .scalars()
                .all()
            )
        assert len(beats) == 1 and beats[0].enqueued_by == runtime.node
    finally:
        await other.close()


async def test_closing_the_runtime_lets_a_running_job_finish(runtime: Runtime) -> None:
    await runtime.start_broker(worker=True)
    async with runtime.session() as session:
        job = await enqueue(session, "test.slow", {})

    async def started() -> bool:
        return RUNS == [("slow", 1)]

    await _until(started)
    asyncio.get_running_loop().call_later(0.2, GATE["slow"].set)
    await runtime.close()  # waits for the job instead of cutting it off
    assert (await _job(runtime, job.id)).status == JobStatus.done
