"""``POST /rest/v2/mailboxes/microsoft/bulk``: connect Microsoft 365 mailboxes in one call.

1. The batch (422 ``{"message": CODE}`` when it cannot be processed): ``auth_type``, the
   number of accounts, every entry has an address, the credential (given, or the account's
   only valid one), and a token for it.
2. Each entry, without Graph: address syntax, display name, duplicates, already connected.
3. The remaining entries against Graph (``probe.py``, JSON batching: 20 requests a round
   trip), while the deliverability of their domains is checked, once per domain.
4. The connected ones are stored (a GRAPH mailbox and its receiving side), in request order.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import structlog
from email_validator import EmailNotValidError, validate_email
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from perch.server.deliverability import service as deliverability_service
from perch.server.deliverability.schemas import DeliverabilityRead
from perch.server.integrations.microsoft import (
    AccessToken,
    AppCredential,
    MicrosoftGraph,
    MicrosoftUnavailable,
    TokenRefused,
)
from perch.server.kit.timefmt import utcnow
from perch.server.microsoft import repository
from perch.server.microsoft import service as microsoft_service
from perch.server.microsoft.errors import BatchCode, ItemCode, batch_refused
from perch.server.microsoft.probe import probe_all
from perch.server.microsoft.schemas import NAME_MAX, BulkAccount, BulkCreate, BulkResult
from perch.server.models import Account
from perch.server.models.mailbox import (
    Mailbox,
    MailboxImap,
    MailboxProvider,
    MailboxStatus,
    MailboxTransport,
)
from perch.server.models.microsoft_credential import MicrosoftCredential
from perch.server.runtime import Runtime

log = structlog.get_logger(__name__)

AUTH_TYPE = "APP_ONLY"
MAX_ACCOUNTS = 200


@dataclass
class Item:
    """One entry of the batch on its way to a result."""

    email: str
    name: str | None  # as given (stripped); the Graph display name fills in when absent
    error: ItemCode | None = None
    graph_user_id: str | None = None
    mailbox_id: int | None = None
    deliverability: DeliverabilityRead | None = None

    def result(self) -> BulkResult:
        ok = self.mailbox_id is not None
        return BulkResult(
            success=ok,
            id=self.mailbox_id,
            email=self.email,
            name=self.name,
            deliverability=self.deliverability if ok else None,
            error=None if ok else (self.error or ItemCode.GRAPH_ERROR).value,
        )


@dataclass(frozen=True)
class BulkOutcome:
    results: list[BulkResult]

    @property
    def status_code(self) -> int:
        """201 when every mailbox was connected, 207 otherwise."""
        return 201 if all(result.success for result in self.results) else 207


@dataclass(frozen=True)
class Batch:
    credential: MicrosoftCredential
    app: AppCredential
    graph: MicrosoftGraph


async def connect(
    session: AsyncSession, runtime: Runtime, account: Account, body: BulkCreate
) -> BulkOutcome:
    entries = _entries(body)
    credential = await _credential(session, account, body.credential_id)
    batch = Batch(
        credential,
        microsoft_service.app_credential(runtime, credential),
        microsoft_service.graph_for(runtime),
    )
    items = await _prechecked(session, account, entries)
    pending = [item for item in items if item.error is None]
    token = await _token(batch) if pending else None
    await asyncio.gather(_probe_all(batch, token, pending), _deliverability(runtime, pending))
    await _store(session, account, batch.credential, [i for i in pending if i.error is None])
    log.info(
        "microsoft.bulk.done",
        accounts=len(items),
        connected=sum(1 for i in items if i.mailbox_id is not None),
    )
    return BulkOutcome([item.result() for item in items])


def _entries(body: BulkCreate) -> list[BulkAccount]:
    if (body.auth_type or AUTH_TYPE) != AUTH_TYPE:
        raise batch_refused(BatchCode.UNSUPPORTED_AUTH_TYPE)
    if not body.accounts:
        raise batch_refused(BatchCode.NO_ACCOUNTS)
    if len(body.accounts) > MAX_ACCOUNTS:
        raise batch_refused(BatchCode.TOO_MANY_ACCOUNTS)
    if any(not (entry.mailbox_email or "").strip() for entry in body.accounts):
        raise batch_refused(BatchCode.MAILBOX_EMAIL_REQUIRED)
    return body.accounts


async def _credential(
    session: AsyncSession, account: Account, credential_id: int | None
) -> MicrosoftCredential:
    now = utcnow()
    if credential_id is None:
        owned = await repository.credentials(session, account.id)
        valid = [c for c in owned if c.secret_expires_at > now]
        if len(valid) != 1:
            code = BatchCode.NO_VALID_CREDENTIAL if not valid else BatchCode.CREDENTIAL_ID_REQUIRED
            raise batch_refused(code)
        return valid[0]
    credential = await repository.credential(session, account.id, credential_id)
    if credential is None:
        raise batch_refused(BatchCode.INVALID_CREDENTIAL_ID)
    if credential.secret_expires_at <= now:
        raise batch_refused(BatchCode.CREDENTIAL_EXPIRED)
    return credential


async def _token(batch: Batch) -> AccessToken | None:
    """The batch's token; None when Microsoft cannot be reached (every item then fails with
    GRAPH_UNAVAILABLE rather than retrying the token endpoint once per item)."""
    try:
        return await batch.graph.token(batch.app)
    except TokenRefused as e:
        log.info("microsoft.bulk.rejected", credential_id=batch.credential.id, code=e.code)
        raise batch_refused(BatchCode.CREDENTIAL_REJECTED) from e
    except MicrosoftUnavailable:
        return None


async def _prechecked(
    session: AsyncSession, account: Account, entries: list[BulkAccount]
) -> list[Item]:
    items = [_item(entry) for entry in entries]
    seen: set[str] = set()
    for item in items:
        if item.error is None and item.email in seen:
            item.error = ItemCode.DUPLICATE_IN_REQUEST
        seen.add(item.email)
    valid = [item.email for item in items if item.error is None]
    connected = await repository.connected_emails(session, account.id, valid)
    for item in items:
        if item.error is None and item.email in connected:
            item.error = ItemCode.ALREADY_CONNECTED
    return items


def _item(entry: BulkAccount) -> Item:
    raw = (entry.mailbox_email or "").strip()
    name = (entry.display_name or "").strip() or None
    try:
        email = validate_email(raw, check_deliverability=False).normalized.lower()
    except EmailNotValidError:
        return Item(raw, name, ItemCode.INVALID_EMAIL)
    if name is not None and len(name) > NAME_MAX:
        return Item(email, name, ItemCode.INVALID_DISPLAY_NAME)
    return Item(email, name)


async def _probe_all(batch: Batch, token: AccessToken | None, items: list[Item]) -> None:
    if token is None:
        for item in items:
            item.error = ItemCode.GRAPH_UNAVAILABLE
        return
    found = await probe_all(batch.graph, batch.app, token, [item.email for item in items])
    for item in items:
        item.error = found[item.email].error
        user = found[item.email].user
        if user is not None:
            item.graph_user_id = user.id
            item.name = item.name or (user.display_name or "")[:NAME_MAX] or None


async def _deliverability(runtime: Runtime, items: list[Item]) -> None:
    resolver = deliverability_service.resolver_for(runtime)
    domains = {deliverability_service.domain_of(item.email) for item in items}
    reports = await deliverability_service.check_domains(
        resolver, domains, deliverability_service.MICROSOFT_365
    )
    for item in items:
        item.deliverability = reports[deliverability_service.domain_of(item.email)]


async def _store(
    session: AsyncSession, account: Account, credential: MicrosoftCredential, items: list[Item]
) -> None:
    """All at once; if that collides (a concurrent request connected an address), one by one
    so only the colliding ones become ALREADY_CONNECTED."""
    pairs = [_rows(account, credential, item) for item in items]
    try:
        async with session.begin_nested():
            await repository.add_mailboxes(session, pairs)
    except IntegrityError:
        pairs = [await _store_one(session, account, credential, item) for item in items]
    for item, (mailbox, _) in zip(items, pairs, strict=True):
        item.mailbox_id = mailbox.id if item.error is None else None


async def _store_one(
    session: AsyncSession, account: Account, credential: MicrosoftCredential, item: Item
) -> tuple[Mailbox, MailboxImap]:
    pair = _rows(account, credential, item)
    try:
        async with session.begin_nested():
            await repository.add_mailboxes(session, [pair])
    except IntegrityError as e:
        if not await repository.connected_emails(session, account.id, [item.email]):
            # not a duplicate address: the credential was deleted meanwhile
            raise batch_refused(BatchCode.INVALID_CREDENTIAL_ID) from e
        item.error = ItemCode.ALREADY_CONNECTED
    return pair


def _rows(
    account: Account, credential: MicrosoftCredential, item: Item
) -> tuple[Mailbox, MailboxImap]:
    mailbox = Mailbox(
        account_id=account.id,
        email=item.email,
        provider=MailboxProvider.microsoft,
        transport=MailboxTransport.graph,
        status=MailboxStatus.connected,
        from_name=item.name,
        smtp_login=item.email,
        microsoft_credential_id=credential.id,
        graph_user_id=item.graph_user_id,
    )
    return mailbox, MailboxImap(account_id=account.id, email=item.email, login=item.email)
