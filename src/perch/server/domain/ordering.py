"""Ordering domains and mailboxes (``POST /order``, ``POST /mailboxes/order``), both 202.

A ``GOOGLE`` domain is one of the account's Workspace domains, verified there; nothing is
bought. Every problem of the body is reported at once (422); then Google is asked whether the
domains are verified and the addresses still free; then the mailboxes are written ``ORDERED``
and a ``domain.create_mailbox`` job per mailbox creates the Workspace user (then ``PAID``).
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from perch.server.domain import errors, names, owner, repository
from perch.server.domain.errors import issue
from perch.server.domain.provisioning import CREATE_MAILBOX
from perch.server.domain.schemas import DomainOrder, MailboxesOrder, MailboxOrderItem
from perch.server.errors import FieldIssue, InvalidFields
from perch.server.google import service as google_service
from perch.server.integrations.google import (
    DirectoryNotFound,
    GoogleRefused,
    GoogleUnavailable,
)
from perch.server.models.domain import Domain, DomainProvider
from perch.server.models.domain_mailbox import DomainMailbox, DomainMailboxStatus
from perch.server.models.domain_owner import DomainOwner
from perch.server.runtime import Runtime
from perch.server.worker.queue import enqueue

NAME_LIMIT = 60  # Workspace's limit for given and family names


@dataclass(frozen=True)
class Wanted:
    """One valid entry of ``mailboxes``: ``email`` lower-case, ``given`` as sent."""

    index: int
    first_name: str
    last_name: str
    email: str
    given: str

    @property
    def field(self) -> str:
        return f"mailboxes.{self.index}.email"


async def order_domains(
    session: AsyncSession, runtime: Runtime, account_id: int, body: DomainOrder
) -> None:
    domains, wanted, contact = await _valid_domain_order(session, runtime, account_id, body)
    await check_workspace(session, runtime, account_id, domains, wanted)
    rows = [_domain(account_id, name, runtime, owner.contact_of(contact)) for name in domains]
    try:
        await repository.add(session, *rows)
        await _write_mailboxes(session, account_id, {d.name: d for d in rows}, wanted, {})
    except repository.Duplicate as e:  # ordered by a concurrent request meanwhile
        raise InvalidFields([issue("domains", errors.DOMAIN_EXISTS)]) from e


async def _valid_domain_order(
    session: AsyncSession, runtime: Runtime, account_id: int, body: DomainOrder
) -> tuple[list[str], list[Wanted], DomainOwner]:
    """The body's domains and mailboxes and the owner, or a 422 with every problem."""
    domains, issues = domain_list(body.domains)
    wanted, mailbox_issues = mailbox_list(body.mailboxes)
    issues = provider_issues(body.provider) + issues + mailbox_issues
    outside = [w for w in wanted if names.domain_of(w.email) not in domains]
    issues += [issue(w.field, errors.DOMAIN_NOT_IN_ORDER, w.given) for w in outside]
    issues += capacity_issues(wanted, {}, runtime.settings.domain_max_mailboxes)
    existing = await repository.domains_named(session, account_id, domains)
    issues += [
        issue(f"domains.{i}", errors.DOMAIN_EXISTS, d)
        for i, d in enumerate(domains)
        if d in existing
    ]
    contact = await repository.owner(session, account_id)
    if contact is None:
        issues.append(issue("owner", errors.OWNER_REQUIRED))
    if issues or contact is None:
        raise InvalidFields(issues)
    return domains, wanted, contact


async def order_mailboxes(
    session: AsyncSession, runtime: Runtime, account_id: int, body: MailboxesOrder
) -> None:
    wanted, domains, failed = await _valid_mailbox_order(session, runtime, account_id, body)
    await check_workspace(session, runtime, account_id, [], wanted)
    try:
        await _write_mailboxes(session, account_id, domains, wanted, failed)
    except repository.Duplicate as e:  # ordered by a concurrent request meanwhile
        raise InvalidFields([issue("mailboxes", errors.MAILBOX_EXISTS)]) from e


async def _valid_mailbox_order(
    session: AsyncSession, runtime: Runtime, account_id: int, body: MailboxesOrder
) -> tuple[list[Wanted], dict[str, Domain], dict[str, DomainMailbox]]:
    """The mailboxes, their domains and the FAILED ones they replace; or a 422."""
    wanted, issues = mailbox_list(body.mailboxes)
    wanted_domains = {names.domain_of(w.email) for w in wanted}
    domains = await repository.domains_named(session, account_id, wanted_domains)
    existing = await repository.mailboxes_named(session, account_id, [w.email for w in wanted])
    failed = {e: m for e, m in existing.items() if m.status == DomainMailboxStatus.failed}
    issues += [problem for w in wanted if (problem := _placement(w, domains, existing, failed))]
    counts = await repository.mailbox_counts(session, [d.id for d in domains.values()])
    in_use = {d.name: counts.get(d.id, 0) - _replaced(failed.values(), d) for d in domains.values()}
    issues += capacity_issues(wanted, in_use, runtime.settings.domain_max_mailboxes)
    if issues:
        raise InvalidFields(issues)
    return wanted, domains, failed


def provider_issues(provider: str | None) -> list[FieldIssue]:
    if provider is None:
        return [issue("provider", errors.REQUIRED)]
    if provider not in DomainProvider.__members__.values():
        return [issue("provider", errors.UNKNOWN_PROVIDER, provider)]
    if provider != DomainProvider.google:
        return [issue("provider", errors.PROVIDER_NOT_AVAILABLE, provider)]
    return []


def domain_list(values: list[str] | None) -> tuple[list[str], list[FieldIssue]]:
    """The valid, distinct domain names (lower-case), and the problems of the others."""
    if not values:
        return [], [issue("domains", errors.REQUIRED if values is None else errors.NOT_EMPTY)]
    domains: list[str] = []
    issues = []
    for i, value in enumerate(values):
        name = names.normalize(value)
        if not names.is_domain(name):
            issues.append(issue(f"domains.{i}", errors.INVALID_DOMAIN, value))
        elif name in domains:
            issues.append(issue(f"domains.{i}", errors.DUPLICATE, value))
        else:
            domains.append(name)
    return domains, issues


def mailbox_list(items: list[MailboxOrderItem] | None) -> tuple[list[Wanted], list[FieldIssue]]:
    """The valid, distinct mailboxes, and the problems of the others."""
    if not items:
        return [], [issue("mailboxes", errors.REQUIRED if items is None else errors.NOT_EMPTY)]
    wanted: list[Wanted] = []
    issues: list[FieldIssue] = []
    for i, item in enumerate(items):
        problems = _item_issues(i, item)
        email = names.normalize(item.email or "")
        if not problems and email in {w.email for w in wanted}:
            problems = [issue(f"mailboxes.{i}.email", errors.DUPLICATE, item.email)]
        issues += problems
        if not problems:
            first, last = (item.first_name or "").strip(), (item.last_name or "").strip()
            wanted.append(Wanted(i, first, last, email, item.email or ""))
    return wanted, issues


def _item_issues(i: int, item: MailboxOrderItem) -> list[FieldIssue]:
    issues = []
    for name in ("first_name", "last_name"):
        value = getattr(item, name)
        if value is None or not value.strip():
            issues.append(
                issue(
                    f"mailboxes.{i}.{name}",
                    errors.REQUIRED if value is None else errors.NOT_EMPTY,
                    value,
                )
            )
        elif len(value.strip()) > NAME_LIMIT:
            issues.append(issue(f"mailboxes.{i}.{name}", errors.NAME_TOO_LONG, value))
    if item.email is None:
        issues.append(issue(f"mailboxes.{i}.email", errors.REQUIRED))
    elif not names.is_mailbox_email(names.normalize(item.email)):
        issues.append(issue(f"mailboxes.{i}.email", errors.INVALID_EMAIL, item.email))
    return issues


def capacity_issues(wanted: list[Wanted], in_use: dict[str, int], limit: int) -> list[FieldIssue]:
    added = Counter(names.domain_of(w.email) for w in wanted)
    full = sorted(d for d, n in added.items() if in_use.get(d, 0) + n > limit)
    return [issue("mailboxes", errors.TOO_MANY_MAILBOXES, d) for d in full]


def _placement(
    w: Wanted,
    domains: dict[str, Domain],
    existing: dict[str, DomainMailbox],
    failed: dict[str, DomainMailbox],
) -> FieldIssue | None:
    domain = domains.get(names.domain_of(w.email))
    if domain is None:
        return issue(w.field, errors.DOMAIN_NOT_FOUND, w.given)
    if not domain.is_ready:
        return issue(w.field, errors.DOMAIN_NOT_READY, w.given)
    if w.email in existing and w.email not in failed:
        return issue(w.field, errors.MAILBOX_EXISTS, w.given)
    return None


def _replaced(failed: Iterable[DomainMailbox], domain: Domain) -> int:
    return sum(1 for m in failed if m.domain_id == domain.id)


async def check_workspace(
    session: AsyncSession,
    runtime: Runtime,
    account_id: int,
    domains: list[str],
    wanted: list[Wanted],
) -> None:
    """The account's Workspace has the domains verified and none of the addresses yet."""
    workspace = await google_service.workspace_for(session, runtime, account_id)
    if workspace is None:
        raise InvalidFields([issue("provider", errors.NOT_CONNECTED, DomainProvider.google)])
    try:
        issues = [i for d in enumerate(domains) if (i := await _domain_issue(workspace, *d))]
        issues += [i for w in wanted if (i := await _address_issue(workspace, w))]
    except (GoogleUnavailable, GoogleRefused) as e:
        raise errors.google_trouble(e) from e
    if issues:
        raise InvalidFields(issues)


async def _domain_issue(
    workspace: google_service.Workspace, index: int, name: str
) -> FieldIssue | None:
    try:
        found = await workspace.google.get_domain(workspace.credential, name)
    except DirectoryNotFound:
        return issue(f"domains.{index}", errors.DOMAIN_NOT_IN_WORKSPACE, name)
    return None if found.verified else issue(f"domains.{index}", errors.DOMAIN_NOT_VERIFIED, name)


async def _address_issue(workspace: google_service.Workspace, w: Wanted) -> FieldIssue | None:
    try:
        await workspace.google.get_user(workspace.credential, w.email)
    except DirectoryNotFound:
        return None
    return issue(w.field, errors.USER_EXISTS, w.given)


def _domain(account_id: int, name: str, runtime: Runtime, contact: dict[str, str | None]) -> Domain:
    return Domain(
        account_id=account_id,
        name=name,
        provider=DomainProvider.google,
        is_custom_domain=True,
        is_ready=True,
        max_mailboxes=runtime.settings.domain_max_mailboxes,
        owner=contact,
    )


async def _write_mailboxes(
    session: AsyncSession,
    account_id: int,
    domains: dict[str, Domain],
    wanted: list[Wanted],
    failed: dict[str, DomainMailbox],
) -> None:
    for w in wanted:
        row = failed.get(w.email) or DomainMailbox(
            account_id=account_id, email=w.email, google_marker=uuid.uuid4().hex
        )
        row.domain_id = domains[names.domain_of(w.email)].id
        row.first_name, row.last_name = w.first_name, w.last_name
        row.provider, row.status, row.error = (
            DomainProvider.google,
            DomainMailboxStatus.ordered,
            None,
        )
        await repository.add(session, row)
        await enqueue(
            session, CREATE_MAILBOX, {"id": row.id}, dedupe_key=f"{CREATE_MAILBOX}:{row.id}"
        )
