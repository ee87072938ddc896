"""The inbox of Microsoft 365 mailboxes, through the sandbox Graph fake over real HTTPS."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from perch.sandbox import SandboxCA
from perch.sandbox.microsoft import SandboxMicrosoft
from perch.server.config import Settings
from perch.server.inbox import sync
from perch.server.models import Mailbox, MailboxImap, MailboxProvider, MailboxTransport
from perch.server.models.microsoft_credential import MicrosoftCredential
from perch.server.runtime import Runtime
from tests.fixtures.app import ApiUser
from tests.helpers import until
from tests.server.inbox.conftest import NOT_DUE

TENANT, CLIENT, SECRET = "tenant-1", "client-1", "graph-secret"
JIM = "jim@example.com"


@pytest.fixture
async def microsoft(sandbox_ca: SandboxCA) -> AsyncIterator[SandboxMicrosoft]:
    fake = SandboxMicrosoft(sandbox_ca)
    fake.add_tenant(TENANT, CLIENT, SECRET)
    fake.add_user(JIM, display_name="Jim Halpert")
    async with fake:
        yield fake


@pytest.fixture
def settings(settings: Settings, microsoft: SandboxMicrosoft, ca_bundle: Path) -> Settings:
    return settings.model_copy(
        update={
            "microsoft_login_url": microsoft.url,
            "microsoft_graph_url": microsoft.graph_url,
            "tls_ca_file": ca_bundle,
        }
    )


async def _graph_mailbox(
    runtime: Runtime, account_id: int, fake: SandboxMicrosoft
) -> tuple[int, int]:
    user = next(u for u in fake.users if u.user_principal_name == JIM)
    async with runtime.session() as session:
        credential = MicrosoftCredential(
            account_id=account_id,
            name="m365",
            tenant_id=TENANT,
            client_id=CLIENT,
            client_secret_encrypted=runtime.secrets.encrypt(SECRET),
            secret_expires_at=datetime(2099, 1, 1, tzinfo=UTC),
        )
        session.add(credential)
        await session.flush()
        mailbox = Mailbox(
            account_id=account_id,
            email=JIM,
            provider=MailboxProvider.microsoft,
            transport=MailboxTransport.graph,
            from_name="Jim Halpert",
            microsoft_credential_id=credential.id,
            graph_user_id=user.id,
        )
        session.add(mailbox)
        await session.flush()
        imap = MailboxImap(
            account_id=account_id, mailbox_id=mailbox.id, email=JIM, next_sync_at=NOT_DUE
        )
        session.add(imap)
        await session.flush()
        return mailbox.id, imap.id


async def test_graph_mail_is_synced_classified_and_paged(
    user: ApiUser, runtime: Runtime, microsoft: SandboxMicrosoft
) -> None:
    _, imap_id = await _graph_mailbox(runtime, user.account.id, microsoft)
    start = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
    for n in range(60):  # more than one Graph page of 50
        microsoft.deliver(
            JIM,
            sender=f"p{n}@example.org",
            subject=f"Re: offer {n}",
            html=f"<p>reply {n}</p>",
            received=start + timedelta(minutes=n),
        )
    microsoft.deliver(
        JIM,
        sender="pam@example.org",
        subject="Automatic reply: offer",
        html="<p>away</p>",
        headers={"Auto-Submitted": "auto-replied"},
        received=start + timedelta(hours=2),
    )
    first = await sync.sync_mailbox(runtime, imap_id)
    assert first is not None and first.imported == 61
    again = await sync.sync_mailbox(runtime, imap_id)
    assert again is not None and again.imported == 0  # nothing twice
    microsoft.deliver(
        JIM,
        sender="new@example.org",
        subject="Re: later",
        html="<p>later</p>",
        received=start + timedelta(hours=3),
    )
    assert (await sync.sync_mailbox(runtime, imap_id)).imported == 1  # type: ignore[union-attr]
    auto = (
        await user.client.get("/rest/v2/inbox/messages", params={"prospect_status": "AUTOREPLIED"})
    ).json()["content"]
    assert [m["subject"] for m in auto] == ["Automatic reply: offer"]
    assert auto[0]["classification"]["rule"] == "header:Auto-Submitted=auto-replied"
    newest = (await user.client.get("/rest/v2/inbox/messages", params={"per_page": 1})).json()[
        "content"
    ][0]
    assert newest["subject"] == "Re: later" and newest["from"]["email"] == "new@example.org"
    assert newest["body"]["text"] == "later"


async def test_a_graph_reply_stays_in_the_conversation(
    user: ApiUser, runtime: Runtime, microsoft: SandboxMicrosoft
) -> None:
    _, imap_id = await _graph_mailbox(runtime, user.account.id, microsoft)
    original = microsoft.deliver(
        JIM,
        sender="pam@example.org",
        subject="Our call",
        html="<p>Tuesday?</p>",
        message_id="<pam1@example.org>",
        headers={"References": "<jim0@example.com>"},
    )
    await sync.sync_mailbox(runtime, imap_id)
    message_id = (await user.client.get("/rest/v2/inbox/messages")).json()["content"][0]["id"]
    body = {
        "cc": "angela@example.org",
        "bcc": "crm@example.org",
        "body": {"html": "<p>Tuesday works.</p>"},
    }
    response = await user.client.post(
        f"/rest/v2/inbox/messages/{message_id}/reply", json=body, headers={"Idempotency-Key": "g1"}
    )
    assert response.status_code == 200 and response.content == b""
    [sent] = microsoft.sent(JIM)
    headers = {h["name"]: h["value"] for h in sent["internetMessageHeaders"]}
    assert headers["In-Reply-To"] == "<pam1@example.org>"
    assert headers["References"] == "<jim0@example.com> <pam1@example.org>"
    assert sent["conversationId"] == original["conversationId"]
    assert sent["subject"] == "Re: Our call"
    assert "<p>Tuesday works.</p>" in sent["body"]["content"]
    assert [r["emailAddress"]["address"] for r in sent["toRecipients"]] == ["pam@example.org"]
    assert [r["emailAddress"]["address"] for r in sent["ccRecipients"]] == ["angela@example.org"]
    assert [r["emailAddress"]["address"] for r in sent["bccRecipients"]] == ["crm@example.org"]
    again = await user.client.post(
        f"/rest/v2/inbox/messages/{message_id}/reply", json=body, headers={"Idempotency-Key": "g1"}
    )
    assert again.status_code == 200 and len(microsoft.sent(JIM)) == 1

    async def read() -> bool:
        return bool(microsoft.message(original["id"])["isRead"])  # type: ignore[index]

    await until(read)
    # the reply comes back through a sync as our own mail, never as a prospect's reply
    microsoft.deliver(
        JIM, sender=JIM, subject=sent["subject"], html="x", message_id=sent["internetMessageId"]
    )
    await sync.sync_mailbox(runtime, imap_id)
    listed = (await user.client.get("/rest/v2/inbox/messages")).json()["content"]
    assert [m["subject"] for m in listed] == ["Our call"]


async def test_graph_outage_is_recorded_on_the_mailbox(
    user: ApiUser, runtime: Runtime, microsoft: SandboxMicrosoft
) -> None:
    _, imap_id = await _graph_mailbox(runtime, user.account.id, microsoft)
    microsoft.outage, microsoft.outage_retry_after = True, 0.1
    assert await sync.sync_mailbox(runtime, imap_id) is None
    async with runtime.session() as session:
        row = await session.get(MailboxImap, imap_id)
    assert (
        row is not None
        and row.sync_error is not None
        and row.sync_error.startswith("GRAPH_UNAVAILABLE")
    )
