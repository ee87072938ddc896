"""Jobs of the mailbox domain."""

from __future__ import annotations

from typing import TYPE_CHECKING

import structlog

from perch.server.mailbox import batch_service, verification
from perch.server.worker.registry import jobs

if TYPE_CHECKING:
    from perch.server.worker.runner import JobContext

log = structlog.get_logger(__name__)
VERIFY_ATTEMPTS = 8


@jobs.job(batch_service.VERIFY_BATCH, max_attempts=VERIFY_ATTEMPTS)
async def verify_batch(ctx: JobContext) -> None:
    """Verify the pending mailboxes of ``payload.batch_id`` and finish the batch.

    A crash or an error retries the job, which resumes with the mailboxes still pending. On the
    last attempt the remaining ones are reported failed (``VERIFICATION_ABORTED``) so that the
    batch still finishes and every mailbox is reported once."""
    batch_id = int(ctx.payload["batch_id"])
    try:
        await verification.verify_batch(ctx.runtime, batch_id)
    except Exception as e:
        if ctx.attempt < VERIFY_ATTEMPTS:
            raise
        log.error("mailbox.batch.aborted", batch_id=batch_id, exc_info=e)
        async with ctx.session() as session:
            await batch_service.abort(session, batch_id)
        async with ctx.session() as session:
            await batch_service.finish(session, batch_id)
