"""A request's transaction commits when its route succeeds and rolls back when it fails."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from fastapi import FastAPI
from sqlalchemy import select

from perch.server.dependencies import AccountDep, SessionDep
from perch.server.errors import FIELDS, PROBLEM, BadRequest, FieldIssue, InvalidFields
from perch.server.models import Account
from perch.server.routing import dialect_router, include
from perch.server.runtime import Runtime
from tests.fixtures.app import ApiUser


@pytest.fixture
async def writing_routes(app: FastAPI) -> AsyncIterator[None]:
    for dialect, prefix in ((PROBLEM, "/t/tx"), (FIELDS, "/t/tx-fields")):
        router = dialect_router(dialect, prefix=prefix)

        @router.post("/{name}")
        async def write(
            name: str, account: AccountDep, session: SessionDep, fail: str = ""
        ) -> dict[str, str]:
            session.add(Account(name=name))
            await session.flush()
            if fail == "bad":
                raise BadRequest("refused after writing")
            if fail == "fields":
                raise InvalidFields([FieldIssue("name", "refused after writing", name)])
            if fail == "bug":
                raise RuntimeError("a bug after writing")
            return {"name": name}

        include(app, router)
    yield


async def _names(runtime: Runtime) -> set[str]:
    async with runtime.session() as session:
        return set((await session.execute(select(Account.name))).scalars())


@pytest.mark.parametrize(
    ("prefix", "fail", "status"),
    [("/t/tx", "bad", 400), ("/t/tx", "bug", 500), ("/t/tx-fields", "fields", 422)],
)
async def test_an_error_rolls_the_request_back(
    user: ApiUser, runtime: Runtime, writing_routes: None, prefix: str, fail: str, status: int
) -> None:
    response = await user.client.post(f"{prefix}/ghost", params={"fail": fail})
    assert response.status_code == status
    assert "ghost" not in await _names(runtime)


async def test_success_commits(user: ApiUser, runtime: Runtime, writing_routes: None) -> None:
    assert (await user.client.post("/t/tx/kept")).status_code == 200
    assert "kept" in await _names(runtime)
