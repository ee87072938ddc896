"""The account's in-app notifications: list them (newest first) and mark them read."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query

from perch.server.dependencies import AccountDep, SessionDep
from perch.server.errors import PROBLEM
from perch.server.notification import service
from perch.server.notification.schemas import MarkedRead, NotificationList, NotificationRead
from perch.server.routing import dialect_router

router = dialect_router(PROBLEM, prefix="/rest/v2/notifications", tags=["notifications"])


@router.get("", summary="In-app notifications, newest first")
async def list_notifications(
    account: AccountDep,
    session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=500, description="at most this many")] = 100,
    read: Annotated[
        bool | None, Query(description="only read (true) or unread (false) ones")
    ] = None,
) -> NotificationList:
    return await service.list_in_app(session, account, limit, read)


@router.post("/read", summary="Mark every in-app notification read")
async def mark_all_read(account: AccountDep, session: SessionDep) -> MarkedRead:
    return await service.mark_all_read(session, account)


@router.post(
    "/{notification_id}/read",
    summary="Mark one in-app notification read",
    responses=PROBLEM.responses(400, 404),
)
async def mark_read(
    notification_id: int, account: AccountDep, session: SessionDep
) -> NotificationRead:
    return await service.mark_read(session, account, notification_id)
