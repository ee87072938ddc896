"""Notification endpoints for the isolation matrix (tests/server/test_isolation.py)."""

from __future__ import annotations

from typing import Any

from perch.server.models.notification import Notification, NotificationChannel, NotificationStatus
from perch.server.runtime import Runtime
from tests.fixtures.app import ApiUser
from tests.fixtures.isolation import IsolationCase, Request

MISSING = 987654321


async def _mark_read(owner: ApiUser, request: Any) -> Request:
    runtime: Runtime = request.getfixturevalue("runtime")
    async with runtime.session() as session:
        row = Notification(
            account_id=owner.account.id,
            type="MAILBOX_BATCH_FINISHED",
            channel=NotificationChannel.in_app,
            message="Mailbox batch 1 finished.",
            status=NotificationStatus.delivered,
        )
        session.add(row)
        await session.flush()
    return Request("POST", f"/rest/v2/notifications/{row.id}/read")


CASES = [
    IsolationCase(
        "notification.mark_read",
        _mark_read,
        lambda: Request("POST", f"/rest/v2/notifications/{MISSING}/read"),
    ),
]
