"""Inbox jobs: a sync per mailbox, scheduled for every mailbox that is due."""

from __future__ import annotations

from datetime import timedelta

from perch.server.inbox import repository, sync
from perch.server.kit.timefmt import utcnow
from perch.server.runtime import Runtime
from perch.server.worker.queue import enqueue
from perch.server.worker.registry import jobs
from perch.server.worker.runner import JobContext

SYNC = "inbox.sync_mailbox"
SCHEDULE_BATCH = 500


def _schedule_every(runtime: Runtime) -> timedelta:
    return timedelta(seconds=min(5, runtime.settings.inbox_poll_seconds))


@jobs.periodic("inbox.schedule_syncs", every=_schedule_every)
async def schedule_syncs(runtime: Runtime) -> None:
    """One sync job per due mailbox; the dedupe key keeps it to one per mailbox at a time."""
    async with runtime.session() as session:
        for imap_id in await repository.due_for_sync(session, utcnow(), SCHEDULE_BATCH):
            await enqueue(session, SYNC, {"imap_id": imap_id}, dedupe_key=f"{SYNC}:{imap_id}")


@jobs.job(SYNC, max_attempts=3)
async def sync_mailbox(ctx: JobContext) -> None:
    await sync.sync_mailbox(ctx.runtime, int(ctx.payload["imap_id"]))


@jobs.job("inbox.after_reply", max_attempts=8)
async def after_reply(ctx: JobContext) -> None:
    from perch.server.inbox import sent_copy

    await sent_copy.after_reply(ctx.runtime, int(ctx.payload["outbound_id"]))
