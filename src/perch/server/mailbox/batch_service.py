"""Manual-connection batches: submit, record each mailbox's result, finish, summarise."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from perch.server.errors import Conflict, NotFound
from perch.server.kit.crypto import SecretBox
from perch.server.kit.timefmt import utcnow
from perch.server.mailbox import repository
from perch.server.mailbox import service as mailbox_service
from perch.server.mailbox.checks import Outcome, aborted_problem, already_connected_problem
from perch.server.mailbox.schemas import (
    BatchMailboxRead,
    BatchSummaryRead,
    MailboxBulkCreate,
    MailboxBulkItem,
    ProblemRead,
)
from perch.server.models import Account
from perch.server.models.mailbox_batch import MailboxBatch
from perch.server.models.mailbox_batch_item import BatchItemStatus, MailboxBatchItem
from perch.server.notification import service as notification_service
from perch.server.worker.queue import enqueue

VERIFY_BATCH = "mailbox.verify_batch"


async def submit(
    session: AsyncSession, account: Account, request: MailboxBulkCreate, secrets: SecretBox
) -> MailboxBatch:
    """Record the batch (passwords encrypted) and queue its verification."""
    await _refuse_conflicts(session, account.id, request.mailboxes)
    types = [t.value for t in request.completion_notification_types]
    batch = MailboxBatch(
        account_id=account.id, size=len(request.mailboxes), notification_types=types
    )
    await repository.add(session, batch)
    rows = [_item(batch, i, entry, secrets) for i, entry in enumerate(request.mailboxes)]
    await repository.add(session, *rows)
    await enqueue(
        session, VERIFY_BATCH, {"batch_id": batch.id}, dedupe_key=f"{VERIFY_BATCH}:{batch.id}"
    )
    return batch


def _item(
    batch: MailboxBatch, index: int, entry: MailboxBulkItem, secrets: SecretBox
) -> MailboxBatchItem:
    return MailboxBatchItem(
        batch_id=batch.id,
        account_id=batch.account_id,
        position=index,
        smtp_email=entry.smtp_email,
        imap_email=entry.imap_email,
        settings=entry.settings().model_dump(mode="json"),
        smtp_password_encrypted=secrets.encrypt(entry.smtp_password.get_secret_value()),
        imap_password_encrypted=secrets.encrypt(entry.imap_password.get_secret_value()),
        status=BatchItemStatus.pending,
        problems=[],
    )


async def _refuse_conflicts(
    session: AsyncSession, account_id: int, mailboxes: list[MailboxBulkItem]
) -> None:
    emails = [entry.smtp_email for entry in mailboxes]
    connected = await repository.connected_emails(session, account_id, emails)
    pending = await repository.pending_emails(session, account_id, emails)
    details: list[str] = []
    first_seen: dict[str, int] = {}
    for index, email in enumerate(emails):
        where = f"mailbox[{index}].smtp_email {email}"
        if email in first_seen:
            first = first_seen[email]
            details.append(
                f"{where} appears more than once in the request (first as mailbox[{first}])"
            )
        elif email in connected:
            details.append(f"{where} is already connected to this account")
        elif email in pending:
            details.append(f"{where} is already being connected in batch {pending[email]}")
        first_seen.setdefault(email, index)
    if details:
        raise Conflict(details)


class AlreadyReported(Exception):
    """The mailbox's result was stored before (by an earlier run): roll this one back."""


async def record(session: AsyncSession, item: MailboxBatchItem, outcome: Outcome) -> None:
    """Store one mailbox's result, and the mailbox if it connected.

    Raises ``AlreadyReported`` when the item is no longer pending; the caller's transaction
    must then roll back (it may have inserted the mailbox already)."""
    status, problems, mailbox_id = outcome.status, outcome.problems, None
    if status is not BatchItemStatus.failed:
        if await _taken(session, item):
            status, problems = BatchItemStatus.failed, [already_connected_problem(item.smtp_email)]
        else:
            stored = await mailbox_service.store_verified(session, item, status, problems)
            mailbox_id = stored.id
    if not await repository.settle_item(session, item.id, status, problems, mailbox_id):
        raise AlreadyReported(item.id)


async def abort(session: AsyncSession, batch_id: int) -> None:
    """Report every still-pending mailbox of the batch as failed (verification gave up)."""
    for item in await repository.pending_items(session, batch_id):
        await repository.settle_item(session, item.id, BatchItemStatus.failed, [aborted_problem()])


async def _taken(session: AsyncSession, item: MailboxBatchItem) -> bool:
    return bool(await repository.connected_emails(session, item.account_id, [item.smtp_email]))


async def finish(session: AsyncSession, batch_id: int) -> bool:
    """Once every mailbox is reported: mark the batch finished and notify, exactly once."""
    batch = await repository.batch(session, batch_id)
    if batch is None:
        return True
    counts = await repository.status_counts(session, batch_id)
    if counts[BatchItemStatus.pending]:
        return False
    if await repository.mark_finished(session, batch_id, utcnow()):
        lines = await _report(session, batch, counts)
        await notification_service.batch_finished(
            session, batch.account_id, batch.id, batch.notification_types, lines
        )
    return True


async def _report(
    session: AsyncSession, batch: MailboxBatch, counts: dict[BatchItemStatus, int]
) -> list[str]:
    """The completion message: a summary line, then one line per mailbox that had problems."""
    lines = [
        f"Mailbox batch {batch.id} finished: {counts[BatchItemStatus.connected]} connected, "
        f"{counts[BatchItemStatus.conditionally_connected]} conditionally connected, "
        f"{counts[BatchItemStatus.failed]} failed (of {batch.size})."
    ]
    for item in await repository.items(session, batch.id):
        for p in item.problems:
            hint = f" Hint: {p['hint']}" if p.get("hint") else ""
            lines.append(
                f"- mailbox[{item.position}] {item.smtp_email}: {p['code']}: {p['message']}.{hint}"
            )
    return lines


async def summary(session: AsyncSession, account: Account, batch_id: int) -> BatchSummaryRead:
    batch = await repository.batch(session, batch_id, account.id)
    if batch is None:
        raise NotFound()
    items = await repository.items(session, batch.id)
    by_status = {status: [i for i in items if i.status == status] for status in BatchItemStatus}
    return BatchSummaryRead(
        # finished_at is set in the transaction that creates the completion notifications, so a
        # finished batch always shows them (no pending item alone would be a moment too soon)
        processing_finished=batch.finished_at is not None,
        batch_size=batch.size,
        pending_mailboxes_count=len(by_status[BatchItemStatus.pending]),
        connected_mailboxes_count=len(by_status[BatchItemStatus.connected]),
        conditionally_connected_mailboxes_count=len(
            by_status[BatchItemStatus.conditionally_connected]
        ),
        failed_mailboxes_count=len(by_status[BatchItemStatus.failed]),
        conditionally_connected_mailboxes=[
            _read(i) for i in by_status[BatchItemStatus.conditionally_connected]
        ],
        failed_mailboxes=[_read(i) for i in by_status[BatchItemStatus.failed]],
        notifications=await notification_service.batch_deliveries(
            session, batch.id, batch.notification_types
        ),
    )


def _read(item: MailboxBatchItem) -> BatchMailboxRead:
    problems = [ProblemRead.model_validate(p) for p in item.problems]
    first: dict[str, Any] = item.problems[0] if item.problems else {}
    return BatchMailboxRead(
        index=item.position,
        smtp_email=item.smtp_email,
        imap_email=item.imap_email,
        mailbox_id=item.mailbox_id,
        code=first.get("code", "UNKNOWN"),
        stage=first.get("stage", "unknown"),
        reply=first.get("reply"),
        hint=first.get("hint"),
        problems=problems,
    )
