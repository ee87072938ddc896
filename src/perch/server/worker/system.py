"""Built-in jobs: a heartbeat that proves jobs flow from the scheduler to a worker."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

import structlog

from perch.server.worker.queue import enqueue
from perch.server.worker.registry import jobs

if TYPE_CHECKING:
    from perch.server.runtime import Runtime
    from perch.server.worker.runner import JobContext

log = structlog.get_logger(__name__)
HEARTBEAT = "system.heartbeat"


def _heartbeat_every(runtime: Runtime) -> timedelta:
    return runtime.settings.heartbeat_interval


@jobs.periodic(HEARTBEAT, every=_heartbeat_every)
async def schedule_heartbeat(runtime: Runtime) -> None:
    async with runtime.session() as session:
        await enqueue(session, HEARTBEAT, {"node": runtime.node}, dedupe_key=HEARTBEAT)


@jobs.job(HEARTBEAT, max_attempts=1)
async def heartbeat(ctx: JobContext) -> None:
    log.debug("system.heartbeat", scheduled_by=ctx.payload.get("node"), run_by=ctx.runtime.node)
