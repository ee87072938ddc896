"""Reading domains and their mailboxes, and the providers this Perch serves.

Look-ups are case-insensitive: names are stored lower-case and path arguments are lowered.
Another account's domain or mailbox is exactly as absent as one that does not exist.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from perch.server.config import Settings
from perch.server.domain import names, repository
from perch.server.domain.avatar import EXTENSIONS
from perch.server.domain.errors import DomainNotFound, MailboxNotFound
from perch.server.domain.schemas import (
    DomainListItem,
    DomainMailboxesRead,
    DomainMailboxListItem,
    DomainMailboxRead,
    DomainRead,
    DomainsRead,
    OwnerContact,
    ProviderRead,
    ProvidersRead,
)
from perch.server.kit.timefmt import iso_local
from perch.server.models.domain import Domain, DomainProvider
from perch.server.models.domain_mailbox import DomainMailbox, DomainMailboxStatus

PICTURE_PATH = "/media/profile-pictures"
# How a Workspace mailbox is reached (Gmail); Perch never hands out the password.
GMAIL_SMTP = ("smtp.gmail.com", 587)
GMAIL_IMAP = ("imap.gmail.com", 993)


def providers(settings: Settings) -> ProvidersRead:
    """Only the providers this Perch can serve: GOOGLE (the account's own Workspace)."""
    google = ProviderRead(
        name=DomainProvider.google,
        currency=settings.domain_currency,
        email_account_price=settings.google_mailbox_price,
    )
    return ProvidersRead(providers=[google])


async def list_domains(session: AsyncSession, account_id: int) -> DomainsRead:
    rows = await repository.domains(session, account_id)
    counts = await repository.mailbox_counts(session, [d.id for d in rows])
    return DomainsRead(domains=[_list_item(d, counts.get(d.id, 0)) for d in rows])


def _list_item(domain: Domain, count: int) -> DomainListItem:
    return DomainListItem(
        domain=domain.name,
        mailboxes_count=count,
        provider=domain.provider,
        is_custom_domain=domain.is_custom_domain,
        is_ready=domain.is_ready,
        expires=iso_local(domain.expires_at) if domain.expires_at else None,
        created=iso_local(domain.created_at),
    )


async def domain_named(session: AsyncSession, account_id: int, name: str) -> Domain:
    domain = await repository.domain(session, account_id, names.normalize(name))
    if domain is None:
        raise DomainNotFound()
    return domain


async def get_domain(session: AsyncSession, account_id: int, name: str) -> DomainRead:
    domain = await domain_named(session, account_id, name)
    mailboxes = await repository.mailboxes_of(session, domain.id)
    owner = {field: domain.owner.get(field) for field in OwnerContact.model_fields}
    return DomainRead(
        owner=OwnerContact(**owner),
        email_forward_address=domain.email_forward_address,
        domain_redirect_url=domain.domain_redirect_url,
        expires=iso_local(domain.expires_at) if domain.expires_at else None,
        created=iso_local(domain.created_at),
        is_custom_domain=domain.is_custom_domain,
        is_ready=domain.is_ready,
        provider=domain.provider,
        mailboxes_count=len(mailboxes),
        max_mailboxes=domain.max_mailboxes,
        all_mailboxes_are_ready=all(m.status == DomainMailboxStatus.paid for m in mailboxes),
    )


async def list_mailboxes(
    session: AsyncSession, account_id: int, domain_name: str
) -> DomainMailboxesRead:
    domain = await domain_named(session, account_id, domain_name)
    rows = await repository.mailboxes_of(session, domain.id)
    return DomainMailboxesRead(mailboxes=[_mailbox_item(m) for m in rows])


def _mailbox_item(mailbox: DomainMailbox) -> DomainMailboxListItem:
    return DomainMailboxListItem(
        first_name=mailbox.first_name,
        last_name=mailbox.last_name,
        email=mailbox.email,
        provider=mailbox.provider,
        status=mailbox.status,
    )


async def get_mailbox(
    session: AsyncSession, settings: Settings, account_id: int, domain_name: str, email: str
) -> DomainMailboxRead:
    domain = await domain_named(session, account_id, domain_name)
    mailbox = await repository.mailbox(session, account_id, names.normalize(email))
    if mailbox is None or mailbox.domain_id != domain.id:
        raise MailboxNotFound()
    return _mailbox_read(mailbox, picture_url(settings, mailbox))


def _mailbox_read(mailbox: DomainMailbox, picture: str | None) -> DomainMailboxRead:
    return DomainMailboxRead(
        first_name=mailbox.first_name,
        last_name=mailbox.last_name,
        email=mailbox.email,
        login=mailbox.email,
        provider=mailbox.provider,
        status=mailbox.status,
        authenticator=None,
        smtp_server=GMAIL_SMTP[0],
        smtp_password=None,
        smtp_port=GMAIL_SMTP[1],
        imap_server=GMAIL_IMAP[0],
        imap_email=mailbox.email,
        imap_password=None,
        imap_port=GMAIL_IMAP[1],
        created=iso_local(mailbox.created_at),
        profile_picture=picture,
        error=mailbox.error,
    )


def picture_url(settings: Settings, mailbox: DomainMailbox) -> str | None:
    if mailbox.picture_token is None or mailbox.picture_mime_type is None:
        return None
    extension = EXTENSIONS[mailbox.picture_mime_type]
    return f"{settings.public_url.rstrip('/')}{PICTURE_PATH}/{mailbox.picture_token}.{extension}"
