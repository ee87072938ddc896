"""Writing jobs. The row is the record; the broker message is only a nudge."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from perch.server.db import after_commit
from perch.server.kit.timefmt import utcnow
from perch.server.models import Job, JobStatus
from perch.server.worker.registry import jobs

DISPATCH = "perch_dispatch"
NODE = "perch_node"


async def enqueue(
    session: AsyncSession,
    kind: str,
    payload: dict[str, Any] | None = None,
    *,
    dedupe_key: str | None = None,
    run_after: datetime | None = None,
) -> Job:
    """Record a job; it is delivered once the caller's transaction commits.

    With a ``dedupe_key``, an unfinished job with the same key is returned instead of a new one.
    """
    spec = jobs.spec(kind)
    if spec is None:
        raise KeyError(f"unknown job kind {kind!r}")
    if dedupe_key is not None:
        existing = await _unfinished(session, dedupe_key)
        if existing is not None:
            return existing
    job = Job(
        kind=kind, payload=payload or {}, dedupe_key=dedupe_key, max_attempts=spec.max_attempts
    )
    job.run_after = run_after or utcnow()
    job.enqueued_at = utcnow()
    job.enqueued_by = session.info.get(NODE)
    session.add(job)
    await session.flush()
    _nudge_after_commit(session, job)
    return job


async def _unfinished(session: AsyncSession, dedupe_key: str) -> Job | None:
    stmt = select(Job).where(
        Job.dedupe_key == dedupe_key, Job.status.in_([JobStatus.pending, JobStatus.running])
    )
    return (await session.execute(stmt)).scalar_one_or_none()


def _nudge_after_commit(session: AsyncSession, job: Job) -> None:
    dispatch = session.info.get(DISPATCH)
    if dispatch is None or job.run_after > utcnow():
        return  # the scheduler's sweep delivers it when due
    job_id = job.id

    async def nudge() -> None:
        await dispatch(job_id)

    after_commit(session, nudge)
