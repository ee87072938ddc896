"""``GET /rest/v2/notifications``: the account's in-app notifications, newest first."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query

from perch.server.dependencies import AccountDep, SessionDep
from perch.server.errors import PROBLEM
from perch.server.notification import service
from perch.server.notification.schemas import NotificationList
from perch.server.routing import dialect_router

router = dialect_router(PROBLEM, prefix="/rest/v2/notifications", tags=["notifications"])


@router.get("", summary="In-app notifications, newest first")
async def list_notifications(
    account: AccountDep,
    session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=500, description="at most this many")] = 100,
) -> NotificationList:
    return await service.list_in_app(session, account, limit)
