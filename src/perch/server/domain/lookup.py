"""The mailbox a path names (``/{domain_name}/mailboxes/{mailbox_email}``) for a change.

The seeds answer every problem of these paths with a 422 naming the field: the address not in
the domain (``domain_mismatch``, decided from the two strings alone), then a domain or a mailbox
the account does not have (``not_found``). Values are echoed as they were sent.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from perch.server.domain import errors, names, repository
from perch.server.domain.errors import issue
from perch.server.errors import FieldIssue
from perch.server.models.domain_mailbox import DomainMailbox


async def find(
    session: AsyncSession, account_id: int, domain_name: str, mailbox_email: str
) -> tuple[DomainMailbox | None, list[FieldIssue]]:
    domain, email = names.normalize(domain_name), names.normalize(mailbox_email)
    if "@" not in email:
        return None, [issue("mailbox_email", errors.INVALID_EMAIL, mailbox_email)]
    if names.domain_of(email) != domain:
        return None, [issue("mailbox_email", errors.DOMAIN_MISMATCH, mailbox_email)]
    if await repository.domain(session, account_id, domain) is None:
        return None, [issue("domain_name", errors.NOT_FOUND, domain_name)]
    mailbox = await repository.mailbox(session, account_id, email)
    if mailbox is None:
        return None, [issue("mailbox_email", errors.NOT_FOUND, mailbox_email)]
    return mailbox, []
