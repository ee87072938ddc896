"""Rows written directly, for states the API reaches only through time or other providers."""

from __future__ import annotations

import uuid

from sqlalchemy import select, update

from perch.server.models import Account, Job
from perch.server.models.domain import Domain, DomainProvider
from perch.server.models.domain_mailbox import DomainMailbox, DomainMailboxStatus
from perch.server.models.mailbox import Mailbox, MailboxImap
from perch.server.runtime import Runtime


async def add_domain_mailbox(
    runtime: Runtime,
    account: Account,
    email: str,
    *,
    provider: DomainProvider = DomainProvider.google,
    status: DomainMailboxStatus = DomainMailboxStatus.paid,
) -> int:
    """A mailbox on ``email``'s domain (created, with that provider, if the account lacks it)."""
    name = email.rpartition("@")[2]
    async with runtime.session() as session:
        stmt = select(Domain).where(Domain.account_id == account.id, Domain.name == name)
        domain = (await session.execute(stmt)).scalar_one_or_none()
        if domain is None:
            domain = Domain(account_id=account.id, name=name, provider=provider, max_mailboxes=10)
            session.add(domain)
            await session.flush()
        row = DomainMailbox(
            account_id=account.id,
            domain_id=domain.id,
            email=email,
            first_name="Gilfoyle",
            last_name="Bertram",
            provider=provider,
            status=status,
            google_marker=uuid.uuid4().hex,
            google_user_id="1" * 21 if status == DomainMailboxStatus.paid else None,
        )
        session.add(row)
        await session.flush()
        return row.id


async def set_status(runtime: Runtime, email: str, status: DomainMailboxStatus) -> None:
    async with runtime.session() as session:
        stmt = update(DomainMailbox).where(DomainMailbox.email == email)
        await session.execute(stmt.values(status=status))


async def add_sending_connection(runtime: Runtime, account: Account, email: str) -> int:
    """A connected sending mailbox (SMTP + IMAP sides) with the same address."""
    async with runtime.session() as session:
        mailbox = Mailbox(account_id=account.id, email=email, smtp_login=email)
        session.add(mailbox)
        await session.flush()
        session.add(MailboxImap(account_id=account.id, mailbox_id=mailbox.id, email=email))
        return mailbox.id


async def sending_connections(runtime: Runtime, email: str) -> list[tuple[int, int]]:
    """(account id, imap rows) of every sending mailbox with this address."""
    async with runtime.session() as session:
        rows = (await session.execute(select(Mailbox).where(Mailbox.email == email))).scalars()
        out = []
        for row in rows:
            stmt = select(MailboxImap).where(MailboxImap.mailbox_id == row.id)
            out.append((row.account_id, len((await session.execute(stmt)).all())))
        return out


async def jobs_of(runtime: Runtime, kind: str) -> list[Job]:
    async with runtime.session() as session:
        stmt = select(Job).where(Job.kind == kind).order_by(Job.id)
        return list((await session.execute(stmt)).scalars())
