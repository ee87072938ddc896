"""Batch summary (in progress, finished, not found) and the 409 cases of the bulk endpoint."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import update

from perch.sandbox import SandboxIMAP, SandboxSMTP
from perch.server.mailbox import batch_service
from perch.server.models.mailbox_batch import MailboxBatch
from perch.server.models.mailbox_batch_item import BatchItemStatus as S
from perch.server.runtime import Runtime
from tests.fixtures.app import ApiUser
from tests.fixtures.peers import ALICE, ALICE_PASSWORD
from tests.server.mailbox import factories
from tests.server.mailbox.conftest import BULK, finished, mailbox, submit, summary
from tests.server.mailbox.test_bulk_validation import required

NOT_FOUND = {"title": "Not Found", "status": 404, "detail": "Requested resource does not exist"}
PROBLEM = {
    "service": "SMTP",
    "code": "SMTP_TIMEOUT",
    "stage": "tcp",
    "server": "smtp.example.com:465",
    "reply": None,
    "hint": "check the host and port",
    "message": "no answer",
    "retryable": True,
}


async def test_a_batch_in_progress(user: ApiUser, runtime: Runtime) -> None:
    batch_id = await factories.batch(runtime, user.account.id, [S.pending, S.failed], [PROBLEM])
    body = await summary(user.client, batch_id)
    assert body == {
        "processing_finished": False,
        "batch_size": 2,
        "pending_mailboxes_count": 1,
        "connected_mailboxes_count": 0,
        "conditionally_connected_mailboxes_count": 0,
        "failed_mailboxes_count": 1,
        "conditionally_connected_mailboxes": [],
        "failed_mailboxes": [
            {
                "index": 1,
                "smtp_email": "m1@example.com",
                "imap_email": "m1@example.com",
                "mailbox_id": None,
                "code": "SMTP_TIMEOUT",
                "stage": "tcp",
                "reply": None,
                "hint": "check the host and port",
                "problems": [PROBLEM],
            }
        ],
        "notifications": {"mail": None, "in_app": None},
    }


async def test_a_fully_connected_batch_looks_like_woodpeckers_example(
    user: ApiUser, smtp_server: SandboxSMTP, imap_server: SandboxIMAP
) -> None:
    ports = {"smtp_port": smtp_server.starttls_port, "imap_port": imap_server.starttls_port}
    batch_id = await submit(user.client, {"mailboxes": [mailbox(**ports)]})
    body = await finished(user.client, batch_id)
    assert {k: v for k, v in body.items() if k != "notifications"} == {
        "processing_finished": True,
        "batch_size": 1,
        "pending_mailboxes_count": 0,
        "connected_mailboxes_count": 1,
        "conditionally_connected_mailboxes_count": 0,
        "failed_mailboxes_count": 0,
        "conditionally_connected_mailboxes": [],
        "failed_mailboxes": [],
    }


@pytest.mark.parametrize("batch_id", ["999999", str(2**63), "0"])
async def test_an_unknown_batch_is_404(user: ApiUser, batch_id: str) -> None:
    response = await user.client.get(f"{BULK}/{batch_id}/summary")
    assert response.status_code == 404
    assert {k: v for k, v in response.json().items() if k != "timestamp"} == NOT_FOUND


async def test_another_accounts_batch_is_404(
    user: ApiUser, other_user: ApiUser, runtime: Runtime
) -> None:
    batch_id = await factories.batch(runtime, user.account.id, [S.connected])
    assert (await user.client.get(f"{BULK}/{batch_id}/summary")).status_code == 200
    response = await other_user.client.get(f"{BULK}/{batch_id}/summary")
    assert response.status_code == 404
    assert response.json()["detail"] == "Requested resource does not exist"


async def test_summary_needs_a_key(anonymous: Any) -> None:
    response = await anonymous.get(f"{BULK}/1/summary")
    assert response.status_code == 401
    assert response.json()["detail"] == "Invalid api key"


async def conflict(user: ApiUser, body: dict[str, Any]) -> list[str]:
    response = await user.client.post(BULK, json=body)
    assert response.status_code == 409, response.text
    assert response.json()["code"] == "Conflict"
    return list(response.json()["details"])


async def test_the_same_mailbox_twice_in_one_request(user: ApiUser) -> None:
    body = required()
    entry = body["mailboxes"][0]
    body["mailboxes"] += [dict(entry, smtp_email="other@getpiedpiper.com"), dict(entry)]
    assert await conflict(user, body) == [
        "mailbox[2].smtp_email jared@getpiedpiper.com appears more than once in the request "
        "(first as mailbox[0])"
    ]


async def test_a_mailbox_already_connected(user: ApiUser, runtime: Runtime) -> None:
    await factories.custom_mailbox(runtime, user.account.id, "jared@getpiedpiper.com")
    assert await conflict(user, required()) == [
        "mailbox[0].smtp_email jared@getpiedpiper.com is already connected to this account"
    ]


async def test_a_mailbox_still_being_processed(user: ApiUser, runtime: Runtime) -> None:
    batch_id = await factories.batch(runtime, user.account.id, [S.pending])
    assert await conflict(user, required(smtp_email="M0@example.com")) == [
        f"mailbox[0].smtp_email m0@example.com is already being connected in batch {batch_id}"
    ]


async def test_failed_mailboxes_and_other_accounts_do_not_conflict(
    user: ApiUser, other_user: ApiUser, runtime: Runtime
) -> None:
    await factories.batch(runtime, user.account.id, [S.failed], [PROBLEM])
    await factories.custom_mailbox(runtime, other_user.account.id, "m1@example.com")
    for email in ("m0@example.com", "m1@example.com"):
        response = await user.client.post(BULK, json=required(smtp_email=email))
        assert response.status_code == 202
        await finished(user.client, response.json()["batch_id"])


async def test_a_connected_mailbox_cannot_be_submitted_again(
    user: ApiUser, smtp_server: SandboxSMTP, imap_server: SandboxIMAP
) -> None:
    ports = {"smtp_port": smtp_server.starttls_port, "imap_port": imap_server.starttls_port}
    await finished(user.client, await submit(user.client, {"mailboxes": [mailbox(**ports)]}))
    again = {"mailboxes": [mailbox(ALICE.upper(), ALICE_PASSWORD, **ports)]}
    assert await conflict(user, again) == [
        f"mailbox[0].smtp_email {ALICE} is already connected to this account"
    ]


async def test_a_batch_is_finished_only_with_its_notifications(
    user: ApiUser, runtime: Runtime
) -> None:
    """Every mailbox reported but the batch not yet closed (the moment before ``finish``
    commits the completion notifications): not finished yet, so a client polling for
    ``processing_finished`` never sees a finished batch without its notifications."""
    batch_id = await factories.batch(runtime, user.account.id, [S.connected])
    async with runtime.session() as session:
        await session.execute(
            update(MailboxBatch).where(MailboxBatch.id == batch_id).values(finished_at=None)
        )
    body = await summary(user.client, batch_id)
    assert (body["processing_finished"], body["pending_mailboxes_count"]) == (False, 0)
    async with runtime.session() as session:
        assert await batch_service.finish(session, batch_id)
    assert (await summary(user.client, batch_id))["processing_finished"] is True
