"""The scheduler: exactly one per deployment, elected through a lease row.

Each tick the leader (1) hands out jobs that are due and not yet delivered, delivered long ago
without being picked up (a lost broker message), or abandoned by a dead worker (lapsed lease),
and (2) runs the periodic producers whose interval has passed. Every process may run this
loop; only the lease holder acts.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import structlog
from sqlalchemy import and_, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from perch.server.kit.timefmt import utcnow
from perch.server.models import Job, JobStatus, Lease
from perch.server.worker.registry import jobs

if TYPE_CHECKING:
    from perch.server.runtime import Runtime

log = structlog.get_logger(__name__)
LEASE_NAME = "scheduler"
REDELIVER_AFTER = timedelta(minutes=2)
SWEEP_LIMIT = 500


class Scheduler:
    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.last_run: dict[str, datetime] = {}
        self.is_leader = False

    async def run_forever(self) -> None:
        tick = self.runtime.settings.scheduler_tick.total_seconds()
        while True:
            try:
                await self.tick()
            except Exception:
                log.exception("scheduler.tick_failed")
            await asyncio.sleep(tick)

    async def tick(self) -> None:
        leader = await self.acquire_lease()
        if leader != self.is_leader:
            log.info("scheduler.leadership", leader=leader, node=self.runtime.node)
            self.is_leader = leader
        if leader:
            await self.sweep()
            await self.run_periodic()

    async def acquire_lease(self) -> bool:
        now, node = utcnow(), self.runtime.node
        ttl = max(self.runtime.settings.scheduler_tick * 3, timedelta(seconds=10))
        async with self.runtime.session() as session:
            stmt = update(Lease).where(
                Lease.name == LEASE_NAME, or_(Lease.holder == node, Lease.expires_at < now)
            )
            result = await session.execute(stmt.values(holder=node, expires_at=now + ttl))
            if result.rowcount == 1:  # type: ignore[attr-defined]
                return True
        return await self._create_lease(now + ttl)

    async def _create_lease(self, expires_at: datetime) -> bool:
        try:
            async with self.runtime.session() as session:
                exists = await session.get(Lease, LEASE_NAME)
                if exists is not None:
                    return False
                values = {"name": LEASE_NAME, "holder": self.runtime.node, "expires_at": expires_at}
                await session.execute(insert(Lease).values(**values))
            return True
        except IntegrityError:
            return False

    async def release(self) -> None:
        async with self.runtime.session() as session:
            stmt = update(Lease).where(Lease.name == LEASE_NAME, Lease.holder == self.runtime.node)
            await session.execute(stmt.values(expires_at=utcnow() - timedelta(seconds=1)))

    async def sweep(self) -> list[int]:
        """Deliver every job that should be running and is not. Returns the ids delivered."""
        now = utcnow()
        due = or_(
            and_(
                Job.status == JobStatus.pending,
                Job.run_after <= now,
                or_(Job.enqueued_at.is_(None), Job.enqueued_at < now - REDELIVER_AFTER),
            ),
            and_(Job.status == JobStatus.running, Job.locked_until < now),
        )
        async with self.runtime.session() as session:
            ids = list(
                (await session.execute(select(Job.id).where(due).limit(SWEEP_LIMIT))).scalars()
            )
            if ids:
                stmt = update(Job).where(Job.id.in_(ids))
                await session.execute(stmt.values(enqueued_at=now, enqueued_by=self.runtime.node))
        for job_id in ids:
            await self.runtime.dispatch(job_id)
        if ids:
            log.info("scheduler.delivered", count=len(ids))
        return ids

    async def run_periodic(self) -> None:
        now = utcnow()
        for spec in jobs.periodic_specs.values():
            last = self.last_run.get(spec.name)
            if last is not None and now - last < spec.every(self.runtime):
                continue
            self.last_run[spec.name] = now
            try:
                await spec.producer(self.runtime)
            except Exception:
                log.exception("scheduler.periodic_failed", name=spec.name)


async def recover_abandoned(runtime: Runtime) -> int:
    """Embedded mode only: this process is the sole executor, so any job still marked running
    was cut off by a crash or stop. Hand it out again now instead of waiting for its lease."""
    async with runtime.session() as session:
        stmt = update(Job).where(Job.status == JobStatus.running)
        result = await session.execute(
            stmt.values(status=JobStatus.pending, locked_until=None, enqueued_at=None)
        )
    count = int(result.rowcount or 0)  # type: ignore[attr-defined]
    if count:
        log.info("scheduler.recovered", count=count)
    return count
