"""The ``mailbox.verify_batch`` job: verify every pending mailbox of a batch, then finish it.

Durable and idempotent: each mailbox's result is stored in its own transaction as soon as it is
known (``batch_service.record``, which also wipes the item's passwords), so a process killed
mid-batch loses at most the checks in flight; the job, handed out again after the restart,
verifies only the items still pending. Finishing (notifications) happens once per batch.

Concurrency: at most ``verify_concurrency`` mailboxes of a batch at once, and at most
``verify_per_host`` connections at once to one server host.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass

import structlog

from perch.server.integrations import mailnet
from perch.server.integrations.imap import ImapConnector
from perch.server.integrations.mailnet import MailServer, security_for_port
from perch.server.integrations.smtp import SmtpConnector
from perch.server.kit.crypto import SecretBox
from perch.server.mailbox import batch_service, repository
from perch.server.mailbox.checks import Checker, DomainLookup, HostLimiter, MailboxCheck
from perch.server.mailbox.schemas import MailboxSettings
from perch.server.models.mailbox_batch_item import MailboxBatchItem
from perch.server.runtime import Runtime

log = structlog.get_logger(__name__)


class BatchNotFinished(Exception):
    """Items are still pending after a run: the job is retried."""


async def verify_batch(runtime: Runtime, batch_id: int) -> None:
    async with runtime.session() as session:
        pending = await repository.pending_items(session, batch_id)
    if pending:
        log.info("mailbox.batch.verifying", batch_id=batch_id, pending=len(pending))
        await _verify(runtime, pending)
    async with runtime.session() as session:
        finished = await batch_service.finish(session, batch_id)
    if not finished:
        raise BatchNotFinished(f"batch {batch_id} still has pending mailboxes")
    log.info("mailbox.batch.finished", batch_id=batch_id)


@dataclass
class _Run:
    """What the mailboxes of one run share: the checker and the bounds."""

    runtime: Runtime
    checker: Checker
    slots: asyncio.Semaphore  # mailboxes verified at once
    writes: asyncio.Lock | None  # SQLite has one writer: queue here, not in its busy handler


async def _verify(runtime: Runtime, items: list[MailboxBatchItem]) -> None:
    settings = runtime.settings
    timeout = settings.mail_timeout.total_seconds()
    threads = max(1, min(settings.verify_concurrency, len(items)))
    async with ImapConnector(
        runtime.ssl_context, timeout=timeout, allowed=settings.allowed_networks, max_threads=threads
    ) as imap:
        smtp = SmtpConnector(
            runtime.ssl_context,
            timeout=timeout,
            allowed=settings.allowed_networks,
            local_hostname=mailnet.helo_name(settings.public_url),
        )
        domains = DomainLookup(settings.dns_nameservers, timeout)
        run = _Run(
            runtime,
            Checker(smtp, imap, HostLimiter(settings.verify_per_host), domains),
            asyncio.Semaphore(settings.verify_concurrency),
            asyncio.Lock() if settings.is_sqlite else None,
        )
        results = await asyncio.gather(
            *(_verify_one(run, item) for item in items), return_exceptions=True
        )
    failures = [r for r in results if isinstance(r, BaseException)]
    if failures:
        raise failures[0]


async def _verify_one(run: _Run, item: MailboxBatchItem) -> None:
    async with run.slots:
        outcome = await run.checker.check(mailbox_check(item, run.runtime.secrets))
    try:
        async with run.writes or contextlib.nullcontext(), run.runtime.session() as session:
            await batch_service.record(session, item, outcome)
    except batch_service.AlreadyReported:
        return  # an earlier run stored it; this one is rolled back
    log.info(
        "mailbox.verified",
        batch_id=item.batch_id,
        index=item.position,
        status=outcome.status.value,
        codes=[p["code"] for p in outcome.problems],
    )


def mailbox_check(item: MailboxBatchItem, secrets: SecretBox) -> MailboxCheck:
    settings = MailboxSettings.model_validate(item.settings)
    domains = (
        settings.open_tracking_domain,
        settings.click_tracking_domain,
        settings.unsubscribe_tracking_domain,
    )
    return MailboxCheck(
        smtp=MailServer(
            settings.smtp_server, settings.smtp_port, security_for_port("SMTP", settings.smtp_port)
        ),
        smtp_login=settings.smtp_login or item.smtp_email,
        smtp_password=secrets.decrypt(item.smtp_password_encrypted or ""),
        imap=MailServer(
            settings.imap_server, settings.imap_port, security_for_port("IMAP", settings.imap_port)
        ),
        imap_login=item.imap_email,
        imap_password=secrets.decrypt(item.imap_password_encrypted or ""),
        tracking_domains=tuple(dict.fromkeys(d for d in domains if d)),
    )
