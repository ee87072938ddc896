"""Mailbox endpoints for the isolation matrix (tests/server/test_isolation.py)."""

from __future__ import annotations

from typing import Any

from perch.server.models.mailbox_batch_item import BatchItemStatus
from perch.server.runtime import Runtime
from tests.fixtures.app import ApiUser
from tests.fixtures.isolation import IsolationCase, Request
from tests.server.mailbox import factories

BULK = "/rest/v2/mailboxes/manual_connection/bulk"
MISSING = 987654321


def _runtime(request: Any) -> Runtime:
    runtime: Runtime = request.getfixturevalue("runtime")
    return runtime


async def _summary(owner: ApiUser, request: Any) -> Request:
    batch_id = await factories.batch(
        _runtime(request), owner.account.id, [BatchItemStatus.connected]
    )
    return Request("GET", f"{BULK}/{batch_id}/summary")


async def _get_smtp(owner: ApiUser, request: Any) -> Request:
    smtp_id, _ = await factories.custom_mailbox(
        _runtime(request), owner.account.id, "a@example.com"
    )
    return Request("GET", f"/rest/v2/mailboxes/{smtp_id}")


async def _get_imap(owner: ApiUser, request: Any) -> Request:
    _, imap_id = await factories.custom_mailbox(
        _runtime(request), owner.account.id, "a@example.com", smtp_id=11, imap_id=22
    )
    return Request("GET", f"/rest/v2/mailboxes/{imap_id}")


async def _patch(owner: ApiUser, request: Any) -> Request:
    smtp_id, _ = await factories.custom_mailbox(
        _runtime(request), owner.account.id, "a@example.com"
    )
    return Request("PATCH", f"/rest/v2/mailboxes/{smtp_id}", {"footer": "mine"})


CASES = [
    IsolationCase(
        "mailbox.batch_summary", _summary, lambda: Request("GET", f"{BULK}/{MISSING}/summary")
    ),
    IsolationCase(
        "mailbox.get_smtp", _get_smtp, lambda: Request("GET", f"/rest/v2/mailboxes/{MISSING}")
    ),
    IsolationCase(
        "mailbox.get_imap", _get_imap, lambda: Request("GET", f"/rest/v2/mailboxes/{MISSING}")
    ),
    IsolationCase(
        "mailbox.patch_footer",
        _patch,
        lambda: Request("PATCH", f"/rest/v2/mailboxes/{MISSING}", {"footer": "mine"}),
    ),
]
