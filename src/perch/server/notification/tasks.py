"""Jobs of the notification domain: mailing a notification."""

from __future__ import annotations

from typing import TYPE_CHECKING

import structlog

from perch.server.integrations import mailnet
from perch.server.integrations.mailnet import MailError, MailTransient
from perch.server.integrations.smtp import SmtpConnector
from perch.server.models.notification import NotificationStatus
from perch.server.notification import mail, repository
from perch.server.notification.service import NO_ADDRESS, SEND_MAIL
from perch.server.worker.registry import jobs

if TYPE_CHECKING:
    from perch.server.runtime import Runtime
    from perch.server.worker.runner import JobContext

log = structlog.get_logger(__name__)
SEND_ATTEMPTS = 5


@jobs.job(SEND_MAIL, max_attempts=SEND_ATTEMPTS)
async def send_mail(ctx: JobContext) -> None:
    """Mail notification ``payload.notification_id``; record SENT or NOT_SENT with the reason.

    Temporary failures (timeouts, 4xx) are retried; on the last attempt they become NOT_SENT."""
    notification_id = int(ctx.payload["notification_id"])
    async with ctx.session() as session:
        row = await repository.get(session, notification_id)
    if row is None or row.status != NotificationStatus.pending:
        return
    try:
        reason = await _deliver(ctx.runtime, row.recipient, row.message)
    except MailTransient as e:
        if ctx.attempt < SEND_ATTEMPTS:
            raise
        reason = _reason(e)
    status = NotificationStatus.not_sent if reason else NotificationStatus.sent
    async with ctx.session() as session:
        await repository.settle(session, notification_id, status, reason)
    log.info(
        "notification.mail", notification_id=notification_id, status=status.value, reason=reason
    )


async def _deliver(runtime: Runtime, recipient: str | None, text: str) -> str | None:
    """None when the server accepted the mail, else why it was not sent."""
    if not recipient:
        return NO_ADDRESS
    try:
        system = mail.system_smtp(runtime.settings)
    except mail.NotConfigured as e:
        return str(e)
    connector = SmtpConnector(
        runtime.ssl_context,
        timeout=runtime.settings.mail_timeout.total_seconds(),
        allowed=None,  # operator-configured host: no address policy
        local_hostname=mailnet.helo_name(runtime.settings.public_url),
    )
    message = mail.compose(system.sender, recipient, text)
    try:
        await connector.send(
            system.server,
            system.login,
            system.password or "",
            message,
            sender=system.sender,
            recipients=[recipient],
        )
    except MailTransient:
        raise
    except MailError as e:
        return _reason(e)
    return None


def _reason(error: MailError) -> str:
    hint = f" ({error.hint})" if error.hint else ""
    return f"{error.code}: {error.message}{hint}"
