"""Running one job: claim it atomically, keep its lease alive, record the outcome.

A job is claimed with a single conditional UPDATE, so two workers handed the same id never
both run it. A worker that dies stops renewing the lease; once it lapses the scheduler hands
the job out again. Handlers must therefore be idempotent.

    JobFailed      raise it for a permanent failure: no retry
    any exception  retried with backoff until ``max_attempts``
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import structlog
from sqlalchemy import and_, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from perch.server.kit.timefmt import utcnow
from perch.server.models import Job, JobStatus
from perch.server.worker.registry import JobSpec, jobs

if TYPE_CHECKING:
    from perch.server.runtime import Runtime

log = structlog.get_logger(__name__)
MAX_BACKOFF = timedelta(minutes=10)


class JobFailed(Exception):
    """A permanent failure: the job is marked failed without further attempts."""


@dataclass
class JobContext:
    runtime: Runtime
    job_id: int
    kind: str
    payload: dict[str, Any]
    attempt: int

    @contextlib.asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        async with self.runtime.session() as session:
            yield session


async def run_job(runtime: Runtime, job_id: int) -> bool:
    """Run job ``job_id`` if it is due and nobody else holds it. True when it ran."""
    job = await _claim(runtime, job_id)
    if job is None:
        return False
    spec = jobs.spec(job.kind)
    if spec is None:
        await _finish(runtime, job_id, JobStatus.failed, f"unknown job kind {job.kind!r}")
        return True
    ctx = JobContext(runtime, job.id, job.kind, dict(job.payload), job.attempts)
    await _execute(runtime, spec, ctx)
    return True


async def _claim(runtime: Runtime, job_id: int) -> Job | None:
    now = utcnow()
    claimable = or_(
        and_(Job.status == JobStatus.pending, Job.run_after <= now),
        and_(Job.status == JobStatus.running, Job.locked_until < now),
    )
    values = {
        "status": JobStatus.running,
        "locked_until": now + runtime.settings.job_lease,
        "attempts": Job.attempts + 1,
        "run_by": runtime.node,
    }
    async with runtime.session() as session:
        result = await session.execute(
            update(Job).where(Job.id == job_id, claimable).values(**values)
        )
        if result.rowcount != 1:  # type: ignore[attr-defined]
            return None
        return (await session.execute(select(Job).where(Job.id == job_id))).scalar_one()


async def _execute(runtime: Runtime, spec: JobSpec, ctx: JobContext) -> None:
    heartbeat = asyncio.create_task(_heartbeat(runtime, ctx.job_id))
    log.info("job.started", job_id=ctx.job_id, kind=ctx.kind, attempt=ctx.attempt)
    try:
        await spec.handler(ctx)
    except JobFailed as e:
        await _finish(runtime, ctx.job_id, JobStatus.failed, str(e))
        log.warning("job.failed", job_id=ctx.job_id, kind=ctx.kind, error=str(e))
    except Exception as e:
        await _retry_or_fail(runtime, spec, ctx, e)
    else:
        await _finish(runtime, ctx.job_id, JobStatus.done, None)
        log.info("job.done", job_id=ctx.job_id, kind=ctx.kind)
    finally:
        heartbeat.cancel()


async def _retry_or_fail(
    runtime: Runtime, spec: JobSpec, ctx: JobContext, error: Exception
) -> None:
    message = f"{type(error).__name__}: {error}"
    if ctx.attempt >= spec.max_attempts:
        log.error("job.gave_up", job_id=ctx.job_id, kind=ctx.kind, exc_info=error)
        await _finish(runtime, ctx.job_id, JobStatus.failed, message)
        return
    delay = min(timedelta(seconds=2**ctx.attempt), MAX_BACKOFF)
    log.warning("job.retry", job_id=ctx.job_id, kind=ctx.kind, error=message, delay=delay.seconds)
    values = {
        "status": JobStatus.pending,
        "run_after": utcnow() + delay,
        "locked_until": None,
        "enqueued_at": None,
        "last_error": message,
    }
    async with runtime.session() as session:
        await session.execute(_mine(ctx.job_id, runtime.node).values(**values))


async def _finish(runtime: Runtime, job_id: int, status: JobStatus, error: str | None) -> None:
    values = {
        "status": status,
        "finished_at": utcnow(),
        "locked_until": None,
        "dedupe_key": None,
        "last_error": error,
    }
    async with runtime.session() as session:
        await session.execute(_mine(job_id, runtime.node).values(**values))


def _mine(job_id: int, node: str) -> Any:
    return update(Job).where(Job.id == job_id, Job.run_by == node, Job.status == JobStatus.running)


async def _heartbeat(runtime: Runtime, job_id: int) -> None:
    interval = runtime.settings.job_lease.total_seconds() / 3
    while True:
        await asyncio.sleep(interval)
        with contextlib.suppress(Exception):
            async with runtime.session() as session:
                stmt = _mine(job_id, runtime.node)
                await session.execute(
                    stmt.values(locked_until=utcnow() + runtime.settings.job_lease)
                )
