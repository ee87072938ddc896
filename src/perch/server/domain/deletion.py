"""``DELETE /{domain_name}/mailboxes/{mailbox_email}``: accepted (202) for a PAID mailbox.

The mailbox becomes ``DELETING`` at once (a second request is refused) and a
``domain.delete_mailbox`` job deletes the Workspace user, then the mailbox, its picture and any
sending connection of the same address. Until then it stays in every list and count.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from perch.server.domain import errors, lookup, repository
from perch.server.domain.errors import issue
from perch.server.domain.provisioning import DELETE_MAILBOX
from perch.server.errors import InvalidFields
from perch.server.google import service as google_service
from perch.server.models.domain_mailbox import DomainMailboxStatus
from perch.server.worker.queue import enqueue

PAID, DELETING = DomainMailboxStatus.paid, DomainMailboxStatus.deleting


async def request_deletion(
    session: AsyncSession, account_id: int, domain_name: str, mailbox_email: str
) -> None:
    mailbox, issues = await lookup.find(session, account_id, domain_name, mailbox_email)
    if mailbox is None:
        raise InvalidFields(issues)
    if mailbox.status == DELETING:
        raise InvalidFields([issue("mailbox_email", errors.BEING_DELETED, mailbox_email)])
    if mailbox.status != PAID:
        raise InvalidFields([issue("mailbox_email", errors.CANNOT_DELETE, mailbox_email)])
    if not await google_service.is_connected(session, account_id):
        raise InvalidFields([issue("domain_name", errors.NOT_CONNECTED, domain_name)])
    if not await repository.change_status(session, mailbox.id, PAID, DELETING, error=None):
        raise InvalidFields([issue("mailbox_email", errors.BEING_DELETED, mailbox_email)])
    key = f"{DELETE_MAILBOX}:{mailbox.id}"
    await enqueue(session, DELETE_MAILBOX, {"id": mailbox.id}, dedupe_key=key)
