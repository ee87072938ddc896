"""Per-request cost of Perch's machinery (request id, API-key auth, dialect routing, session)
against a bare FastAPI route in the same process, both over ASGI."""

from __future__ import annotations

import tempfile
from pathlib import Path

import httpx
from fastapi import FastAPI

from bench.common import Result, timed
from perch.server.app import create_app
from perch.server.auth import service as auth_service
from perch.server.config import Environment, Settings
from perch.server.db import create_engine
from perch.server.dependencies import AccountDep
from perch.server.errors import PROBLEM
from perch.server.kit.crypto import generate_key
from perch.server.models import Base
from perch.server.routing import dialect_router, include
from perch.server.runtime import Runtime

REQUESTS = 500


async def _prepared_app(directory: Path) -> tuple[FastAPI, Runtime, str]:
    url = f"sqlite+aiosqlite:///{directory}/bench.db"
    engine = create_engine(url)
    async with engine.begin() as connection:
        await connection.run_sync(Base.metadata.create_all)
    await engine.dispose()
    runtime = Runtime(Settings(env=Environment.test, database_url=url, secret_keys=generate_key()))  # type: ignore[arg-type]
    app = create_app(runtime=runtime)
    router = dialect_router(PROBLEM, prefix="/bench")

    @router.get("/me")
    async def me(account: AccountDep) -> dict[str, int]:
        return {"id": account.id}

    include(app, router)
    async with runtime.session() as session:
        issued = await auth_service.issue_key(session, "bench")
    return app, runtime, issued.key


def _bare_app() -> FastAPI:
    app = FastAPI()

    @app.get("/bench/me")
    async def me() -> dict[str, int]:
        return {"id": 1}

    return app


async def _hammer(app: FastAPI, headers: dict[str, str]) -> None:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://b", headers=headers
    ) as c:
        for _ in range(REQUESTS):
            response = await c.get("/bench/me")
            assert response.status_code == 200


async def run() -> list[Result]:
    with tempfile.TemporaryDirectory() as directory:
        app, _runtime, key = await _prepared_app(Path(directory))
        async with app.router.lifespan_context(app):
            perch = await timed(lambda: _hammer(app, {"x-api-key": key}), repeat=3)
        bare = await timed(lambda: _hammer(_bare_app(), {}), repeat=3)
    return [
        Result(
            "api.authenticated_request",
            perch / REQUESTS,
            bare / REQUESTS,
            notes={"requests": REQUESTS},
        )
    ]
