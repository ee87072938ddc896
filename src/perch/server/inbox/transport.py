"""Handing a recorded reply to the mailbox's server (SMTP here; Graph in ``graph_reply``).

The ledger row is moved to SENDING only once the connection is up and logged in, right before
the message goes out, so a failure to connect or log in leaves it resendable. What the server
answers decides the rest: accepted -> SENT; a refusal with a reply code -> FAILED (nothing was
delivered); a lost connection or timeout while sending -> UNKNOWN (it may have been delivered).
"""

from __future__ import annotations

from email import message_from_string, policy
from email.message import EmailMessage
from typing import Any, NoReturn

import structlog

from perch.server.inbox import repository
from perch.server.inbox.errors import OutcomeUnknown, SendRefused
from perch.server.integrations.mailnet import MailError, MailServer, security_for_port
from perch.server.integrations.smtp import SmtpConnector
from perch.server.kit.timefmt import utcnow
from perch.server.models import Mailbox, MailboxTransport
from perch.server.models.outbound_message import OutboundMessage, OutboundStatus
from perch.server.runtime import Runtime

log = structlog.get_logger(__name__)
RESENDABLE = (OutboundStatus.pending, OutboundStatus.failed)
_CONNECTOR = "inbox.smtp_connector"


def smtp_connector(runtime: Runtime) -> SmtpConnector:
    connector = runtime.state.get(_CONNECTOR)
    if connector is None:
        connector = SmtpConnector(
            runtime.ssl_context,
            timeout=runtime.settings.mail_timeout.total_seconds(),
            allowed=runtime.settings.allowed_networks,
        )
        runtime.state[_CONNECTOR] = connector
    return connector


def mime_of(outbound: OutboundMessage) -> EmailMessage:
    return message_from_string(outbound.raw or "", policy=policy.default)


def recipients(outbound: OutboundMessage) -> list[str]:
    envelope: dict[str, Any] = outbound.envelope
    every = [*envelope.get("to", []), *envelope.get("cc", []), *envelope.get("bcc", [])]
    return list(dict.fromkeys(every))


async def hand_over(runtime: Runtime, outbound: OutboundMessage) -> None:
    async with runtime.session() as db:
        mailbox = await db.get(Mailbox, outbound.mailbox_id)
    if mailbox is None:
        raise SendRefused("The mailbox was removed before the reply could be sent.")
    if mailbox.transport == MailboxTransport.graph:
        from perch.server.inbox import graph_reply

        await graph_reply.hand_over(runtime, mailbox, outbound)
        return
    await _over_smtp(runtime, mailbox, outbound)


async def _over_smtp(runtime: Runtime, mailbox: Mailbox, outbound: OutboundMessage) -> None:
    if not (mailbox.smtp_server and mailbox.smtp_port):
        raise SendRefused("This mailbox has no SMTP server.")
    server = MailServer(
        mailbox.smtp_server, mailbox.smtp_port, security_for_port("SMTP", mailbox.smtp_port)
    )
    password = runtime.secrets.decrypt(mailbox.smtp_password_encrypted or "")
    try:
        smtp = await smtp_connector(runtime).open(
            server, mailbox.smtp_login or mailbox.email, password
        )
    except MailError as e:
        raise SendRefused(_refusal(e)) from e  # nothing was handed over: still resendable
    try:
        await claim(runtime, outbound)
        try:
            result = await smtp.send(
                mime_of(outbound), sender=mailbox.email, recipients=recipients(outbound)
            )
        except MailError as e:
            await _settle_error(runtime, outbound, e)
        await settle(runtime, outbound, OutboundStatus.sent, result.reply)
        log.info("inbox.reply.sent", outbound_id=outbound.id, refused=len(result.refused))
    finally:
        await smtp.close()


async def claim(runtime: Runtime, outbound: OutboundMessage) -> None:
    async with runtime.session() as db:
        if not await repository.claim_outbound(db, outbound.id, [str(s) for s in RESENDABLE]):
            raise OutcomeUnknown(
                "This reply is being sent by another request with the same Idempotency-Key."
            )


async def settle(
    runtime: Runtime, outbound: OutboundMessage, status: OutboundStatus, reply: str | None
) -> None:
    values: dict[str, Any] = {"status": status, "server_reply": reply}
    if status == OutboundStatus.sent:
        values["sent_at"] = utcnow()
    async with runtime.session() as db:
        await repository.settle_outbound(db, outbound.id, **values)
    outbound.status = status


async def _settle_error(runtime: Runtime, outbound: OutboundMessage, error: MailError) -> NoReturn:
    if error.reply:  # the server answered with a refusal: nothing was delivered
        await settle(runtime, outbound, OutboundStatus.failed, error.reply)
        raise SendRefused(_refusal(error)) from error
    await settle(runtime, outbound, OutboundStatus.unknown, str(error))
    log.warning("inbox.reply.outcome_unknown", outbound_id=outbound.id, code=error.code)
    raise OutcomeUnknown(
        "The connection to the mail server was lost while the reply was being handed over; it may "
        "have been delivered, so it will not be sent again."
    ) from error


def _refusal(error: MailError) -> str:
    answer = f" answered: {error.reply}" if error.reply else f": {error}"
    return f"The mail server{answer} ({error.code})"
