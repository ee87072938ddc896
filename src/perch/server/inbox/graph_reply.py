"""Replies through Microsoft Graph, so Exchange keeps the conversation one thread.

Graph cannot set ``In-Reply-To``/``References`` on a new message, so Perch replies *to the
original*: ``createReply`` makes a draft in the conversation (Exchange sets the threading
headers), the draft gets the reply's body, recipients and subject, and ``send`` sends it; Exchange
keeps the copy in Sent Items. The ledger records the draft's ``internetMessageId`` so the reply is
known as Perch's own when a sync sees it.

Outcome: a refusal from Graph before ``send`` leaves the reply resendable; ``send`` refused ->
FAILED; Graph unreachable during ``send`` -> UNKNOWN (never sent again blindly).
"""

from __future__ import annotations

from typing import Any

import structlog

from perch.server.inbox import repository, transport
from perch.server.inbox.errors import OutcomeUnknown, SendRefused
from perch.server.inbox.graph_sync import app_for
from perch.server.integrations.microsoft import GraphCall, MicrosoftError, MicrosoftRefused
from perch.server.models import Mailbox
from perch.server.models.inbox_message import InboxMessage
from perch.server.models.outbound_message import OutboundMessage, OutboundStatus
from perch.server.runtime import Runtime

log = structlog.get_logger(__name__)


def _recipients(addresses: list[str]) -> list[dict[str, Any]]:
    return [{"emailAddress": {"address": address}} for address in addresses]


def _draft_update(outbound: OutboundMessage) -> dict[str, Any]:
    message = transport.mime_of(outbound)
    html = message.get_body(preferencelist=("html",))
    envelope = outbound.envelope
    return {
        "subject": str(message["Subject"] or ""),
        "body": {"contentType": "html", "content": html.get_content() if html else ""},
        "toRecipients": _recipients(envelope.get("to", [])),
        "ccRecipients": _recipients(envelope.get("cc", [])),
        "bccRecipients": _recipients(envelope.get("bcc", [])),
    }


async def hand_over(runtime: Runtime, mailbox: Mailbox, outbound: OutboundMessage) -> None:
    from perch.server.microsoft import service as microsoft_service

    async with runtime.session() as db:
        original = await db.get(InboxMessage, outbound.reply_to_message_id)
    if original is None or not original.graph_id:
        raise SendRefused("The original message is not a Microsoft 365 message Perch can reply to.")
    graph, app = microsoft_service.graph_for(runtime), await app_for(runtime, mailbox)
    user = str(mailbox.graph_user_id)
    try:
        draft = await graph.call(
            app,
            GraphCall(
                "POST",
                f"/users/{user}/messages/{original.graph_id}/createReply",
                body={},
                mailbox=user,
            ),
        )
        draft_id = str(draft["id"])
        await graph.call(
            app,
            GraphCall(
                "PATCH",
                f"/users/{user}/messages/{draft_id}",
                body=_draft_update(outbound),
                mailbox=user,
            ),
        )
    except MicrosoftError as e:
        raise SendRefused(f"Microsoft Graph answered: {e}") from e  # nothing sent yet
    await _send(runtime, graph, app, user, draft_id, draft, outbound)


async def _send(
    runtime: Runtime,
    graph: Any,
    app: Any,
    user: str,
    draft_id: str,
    draft: dict[str, Any],
    outbound: OutboundMessage,
) -> None:
    await transport.claim(runtime, outbound)
    try:
        await graph.call(
            app, GraphCall("POST", f"/users/{user}/messages/{draft_id}/send", body={}, mailbox=user)
        )
    except MicrosoftRefused as e:
        await transport.settle(runtime, outbound, OutboundStatus.failed, str(e))
        raise SendRefused(f"Microsoft Graph answered: {e}") from e
    except MicrosoftError as e:
        await transport.settle(runtime, outbound, OutboundStatus.unknown, str(e))
        raise OutcomeUnknown(
            "Microsoft Graph could not be reached while the reply was being sent; it may have "
            "been sent, so it will not be sent again."
        ) from e
    await transport.settle(runtime, outbound, OutboundStatus.sent, "202 Accepted")
    if draft.get("internetMessageId"):
        async with runtime.session() as db:
            await repository.settle_outbound(
                db, outbound.id, message_id=str(draft["internetMessageId"])
            )
    log.info("inbox.reply.sent", outbound_id=outbound.id, transport="graph")


async def after_reply(
    runtime: Runtime, mailbox: Mailbox, outbound: OutboundMessage, original: InboxMessage | None
) -> None:
    """Exchange already keeps the Sent Items copy; mark the original read."""
    from perch.server.microsoft import service as microsoft_service

    if original is None or not original.graph_id:
        return
    graph, app = microsoft_service.graph_for(runtime), await app_for(runtime, mailbox)
    user = str(mailbox.graph_user_id)
    await graph.call(
        app,
        GraphCall(
            "PATCH",
            f"/users/{user}/messages/{original.graph_id}",
            body={"isRead": True},
            mailbox=user,
        ),
    )
