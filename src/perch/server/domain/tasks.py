"""Jobs of the domain package: creating and deleting mailboxes' Workspace users."""

from __future__ import annotations

from typing import TYPE_CHECKING

from perch.server.domain import provisioning
from perch.server.domain.provisioning import CREATE_MAILBOX, DELETE_MAILBOX, MAX_ATTEMPTS
from perch.server.worker.registry import jobs

if TYPE_CHECKING:
    from perch.server.worker.runner import JobContext


@jobs.job(CREATE_MAILBOX, max_attempts=MAX_ATTEMPTS)
async def create_mailbox(ctx: JobContext) -> None:
    """``{"id": mailbox id}``: create the Workspace user of an ORDERED mailbox, then PAID."""
    last = ctx.attempt >= MAX_ATTEMPTS
    await provisioning.create_user(ctx.runtime, int(ctx.payload["id"]), last_attempt=last)


@jobs.job(DELETE_MAILBOX, max_attempts=MAX_ATTEMPTS)
async def delete_mailbox(ctx: JobContext) -> None:
    """``{"id": mailbox id}``: delete the Workspace user of a DELETING mailbox, then the row."""
    last = ctx.attempt >= MAX_ATTEMPTS
    await provisioning.delete_user(ctx.runtime, int(ctx.payload["id"]), last_attempt=last)
