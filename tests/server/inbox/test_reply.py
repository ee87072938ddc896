"""POST /rest/v2/inbox/messages/{id}/reply against the sandbox SMTP and IMAP servers."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from perch.sandbox import SandboxIMAP, SandboxSMTP
from perch.server.inbox import sync
from perch.server.models.inbox_message import InboxMessage
from perch.server.models.outbound_message import OutboundMessage
from perch.server.runtime import Runtime
from tests.fixtures.app import ApiUser
from tests.fixtures.peers import ALICE, ALICE_PASSWORD
from tests.helpers import until
from tests.server.inbox.conftest import MakePeerMailbox

ORIGINAL = (
    b"From: Richard Hendricks <richard@hooli.example>\r\nTo: " + ALICE.encode() + b"\r\n"
    b"Subject: Our call\r\nDate: Fri, 20 Nov 2026 09:30:00 +0000\r\n"
    b"Message-ID: <r1@hooli.example>\r\nReferences: <o0@piedpiper.example>\r\n"
    b"Content-Type: text/html; charset=utf-8\r\n\r\n<p>Can we talk Tuesday?</p>\r\n"
)
SEED_BODY = {"body": {"html": "<p>Example response here</p>"}}


async def _synced_original(
    runtime: Runtime,
    user: ApiUser,
    imap_server: SandboxIMAP,
    make_peer_mailbox: MakePeerMailbox,
    raw: bytes = ORIGINAL,
    **fields: object,
) -> tuple[int, int, int]:
    mailbox, imap = await make_peer_mailbox(
        user.account.id, ALICE, ALICE_PASSWORD, from_name="Alice Example", **fields
    )
    await imap_server.append(ALICE, "INBOX", raw)
    await sync.sync_mailbox(runtime, imap.id)
    async with runtime.session() as session:
        message_id = (await session.execute(select(InboxMessage.id))).scalar_one()
    return message_id, mailbox.id, imap.id


async def test_the_seed_example_replies_with_correct_threading(
    user: ApiUser,
    runtime: Runtime,
    smtp_server: SandboxSMTP,
    imap_server: SandboxIMAP,
    make_peer_mailbox: MakePeerMailbox,
) -> None:
    message_id, _, _ = await _synced_original(runtime, user, imap_server, make_peer_mailbox)
    response = await user.client.post(f"/rest/v2/inbox/messages/{message_id}/reply", json=SEED_BODY)
    assert response.status_code == 200 and response.content == b""
    [received] = smtp_server.messages
    sent = received.message
    assert received.mail_from == ALICE and received.rcpt_tos == ["richard@hooli.example"]
    assert received.login == ALICE
    assert sent["In-Reply-To"] == "<r1@hooli.example>"
    assert sent["References"] == "<o0@piedpiper.example> <r1@hooli.example>"
    assert sent["Subject"] == "Re: Our call"
    assert sent["From"] == "Alice Example <alice@example.test>"
    assert sent["Message-ID"] not in ("<r1@hooli.example>", None)
    assert sent.get_content_type() == "multipart/alternative"
    text, html = (part.get_content() for part in sent.iter_parts())
    assert text.strip() == "Example response here" and "<p>Example response here</p>" in html

    async def copied() -> bool:
        return any(
            b"Example response here" in raw
            for _, raw, _ in await imap_server.messages(ALICE, "Sent")
        )

    await until(copied)

    async def flagged() -> bool:
        return {"\\Seen", "\\Answered"} <= (await imap_server.messages(ALICE, "INBOX"))[0][2]

    await until(flagged)
    listed = (await user.client.get("/rest/v2/inbox/messages")).json()["content"][0]
    assert listed["read"] is True


async def test_overrides_recipients_cc_bcc_and_subject(
    user: ApiUser,
    runtime: Runtime,
    smtp_server: SandboxSMTP,
    imap_server: SandboxIMAP,
    make_peer_mailbox: MakePeerMailbox,
) -> None:
    message_id, mailbox_id, _ = await _synced_original(
        runtime, user, imap_server, make_peer_mailbox, bcc="crm@piedpiper.example"
    )
    body = {
        "mailbox_id": mailbox_id,
        "to": "recipient@gmail.com",
        "cc": "cc1@gmail.com,cc2@gmail.com",
        "bcc": "bcc1@gmail.com,bcc2@gmail.com",
        "subject": "Re: Example subject",
        "body": {"html": "<p>Example response here</p>"},
    }
    assert (
        await user.client.post(f"/rest/v2/inbox/messages/{message_id}/reply", json=body)
    ).status_code == 200
    [received] = smtp_server.messages
    assert sorted(received.rcpt_tos) == sorted(
        [
            "recipient@gmail.com",
            "cc1@gmail.com",
            "cc2@gmail.com",
            "bcc1@gmail.com",
            "bcc2@gmail.com",
        ]
    )
    sent = received.message
    assert sent["To"] == "recipient@gmail.com" and sent["Cc"] == "cc1@gmail.com, cc2@gmail.com"
    assert sent["Bcc"] is None and b"bcc1" not in received.data
    assert sent["Subject"] == "Re: Example subject"


async def test_defaults_reply_to_and_mailbox_bcc(
    user: ApiUser,
    runtime: Runtime,
    smtp_server: SandboxSMTP,
    imap_server: SandboxIMAP,
    make_peer_mailbox: MakePeerMailbox,
) -> None:
    raw = ORIGINAL.replace(
        b"Subject: Our call", b"Reply-To: deals@hooli.example\r\nSubject: RE: Our call"
    )
    message_id, _, _ = await _synced_original(
        runtime, user, imap_server, make_peer_mailbox, raw=raw, bcc="crm@piedpiper.example"
    )
    assert (
        await user.client.post(f"/rest/v2/inbox/messages/{message_id}/reply", json=SEED_BODY)
    ).status_code == 200
    [received] = smtp_server.messages
    assert sorted(received.rcpt_tos) == ["crm@piedpiper.example", "deals@hooli.example"]
    assert received.message["Subject"] == "RE: Our call"
    assert received.message["To"] == "deals@hooli.example"


async def test_the_seeds_400_and_404_texts(
    user: ApiUser,
    other_user: ApiUser,
    runtime: Runtime,
    imap_server: SandboxIMAP,
    make_peer_mailbox: MakePeerMailbox,
) -> None:
    message_id, mailbox_id, imap_id = await _synced_original(
        runtime, user, imap_server, make_peer_mailbox
    )
    url = f"/rest/v2/inbox/messages/{message_id}/reply"
    cases = [
        (b"{oops", 400, "Invalid request body"),
        (b'{"body": {}}', 400, "Invalid request body"),
        (
            b'{"to": "x", "body": {"html": "<p>x</p>"}}',
            400,
            "Recipient email if provided must be valid email address",
        ),
        (
            b'{"cc": "a@example.com,,b", "body": {"html": "<p>x</p>"}}',
            400,
            "Cc emails if provided must contain comma-separated valid email addresses",
        ),
        (
            b'{"bcc": "bcc1@gmail.com;bcc2@gmail.com", "body": {"html": "<p>x</p>"}}',
            400,
            "Bcc emails if provided must contain comma-separated valid email addresses",
        ),
        (
            f'{{"mailbox_id": {mailbox_id + 1000}, "body": {{"html": "<p>x</p>"}}}}'.encode(),
            404,
            "Mailbox not found",
        ),
        (
            f'{{"mailbox_id": {imap_id + 5000}, "body": {{"html": "<p>x</p>"}}}}'.encode(),
            404,
            "Mailbox not found",
        ),
    ]
    for body, status, detail in cases:
        response = await user.client.post(
            url, content=body, headers={"content-type": "application/json"}
        )
        assert response.status_code == status, body
        assert response.json()["detail"] == detail, body
        assert list(response.json()) == ["title", "status", "detail", "timestamp"]
    missing = await user.client.post(
        f"/rest/v2/inbox/messages/{message_id + 999}/reply", json=SEED_BODY
    )
    assert (missing.status_code, missing.json()["detail"]) == (
        404,
        "Requested resource does not exist",
    )
    stranger = await other_user.client.post(url, json=SEED_BODY)
    assert (stranger.status_code, stranger.json()["detail"]) == (
        404,
        "Requested resource does not exist",
    )


@pytest.fixture
async def reply_url(
    user: ApiUser, runtime: Runtime, imap_server: SandboxIMAP, make_peer_mailbox: MakePeerMailbox
) -> str:
    """The reply URL of a message synced from the sandbox IMAP server."""
    message_id, _, _ = await _synced_original(runtime, user, imap_server, make_peer_mailbox)
    return f"/rest/v2/inbox/messages/{message_id}/reply"


async def test_the_same_idempotency_key_sends_once(
    user: ApiUser, runtime: Runtime, smtp_server: SandboxSMTP, reply_url: str
) -> None:
    headers = {"Idempotency-Key": "reply-42"}
    for _ in range(3):
        assert (
            await user.client.post(reply_url, json=SEED_BODY, headers=headers)
        ).status_code == 200
    assert len(smtp_server.messages) == 1
    assert (
        await user.client.post(reply_url, json=SEED_BODY, headers={"Idempotency-Key": "reply-43"})
    ).status_code == 200
    assert len(smtp_server.messages) == 2


async def test_a_refusal_is_a_500_with_the_servers_answer_and_can_be_retried(
    user: ApiUser, runtime: Runtime, smtp_server: SandboxSMTP, reply_url: str
) -> None:
    smtp_server.reject_data = "554 5.7.1 Message rejected as spam"
    refused = await user.client.post(reply_url, json=SEED_BODY, headers={"Idempotency-Key": "k1"})
    assert refused.status_code == 500
    assert "554 5.7.1 Message rejected as spam" in refused.json()["detail"]
    smtp_server.reject_data = None
    assert (
        await user.client.post(reply_url, json=SEED_BODY, headers={"Idempotency-Key": "k1"})
    ).status_code == 200
    assert len(smtp_server.messages) == 1


async def test_an_unknown_outcome_is_never_resent(
    user: ApiUser, runtime: Runtime, smtp_server: SandboxSMTP, reply_url: str
) -> None:
    first = await user.client.post(reply_url, json=SEED_BODY, headers={"Idempotency-Key": "k2"})
    assert first.status_code == 200
    async with runtime.session() as session:
        row = (await session.execute(select(OutboundMessage))).scalar_one()
        row.status = "UNKNOWN"  # as if the connection had dropped after DATA
    again = await user.client.post(reply_url, json=SEED_BODY, headers={"Idempotency-Key": "k2"})
    assert again.status_code == 500 and "not sent again" in again.json()["detail"]
    assert len(smtp_server.messages) == 1
