"""Typed dependencies every endpoint uses: the runtime, a session, the caller's account."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Header, Request
from sqlalchemy.ext.asyncio import AsyncSession

from perch.server.auth import service as auth_service
from perch.server.db import ROLLBACK_ONLY
from perch.server.errors import Unauthorized
from perch.server.kit.crypto import hash_api_key
from perch.server.models import Account
from perch.server.routing import REQUEST_FAILED
from perch.server.runtime import Runtime


def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    """The request's transaction: committed when the route succeeds, rolled back when it
    answers with an error (the dialect route marks the request failed before this closes)."""
    async with get_runtime(request).session() as session:
        yield session
        if getattr(request.state, REQUEST_FAILED, False):
            session.info[ROLLBACK_ONLY] = True


async def get_account(
    request: Request,
    session: Annotated[AsyncSession, Depends(get_session, scope="function")],
    x_api_key: Annotated[str | None, Header(include_in_schema=False)] = None,
    authorization: Annotated[str | None, Header(include_in_schema=False)] = None,
) -> AsyncIterator[Account]:
    """The caller's account; the request then holds one of its key's rate-limit slots."""
    key = auth_service.key_from_headers(x_api_key, authorization)
    account = await auth_service.authenticate(session, key)
    if account is None or key is None:
        raise Unauthorized()
    async with get_runtime(request).limiter.slot(hash_api_key(key)):
        yield account


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]
SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]
AccountDep = Annotated[Account, Depends(get_account, scope="function")]
