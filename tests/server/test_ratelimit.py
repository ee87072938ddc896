"""Per-key limits: N at a time, a short queue with a wait limit, then 429 with Retry-After."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta

import httpx
import pytest
from fastapi import FastAPI

from perch.server.config import Settings
from perch.server.dependencies import AccountDep
from perch.server.errors import FIELDS, PROBLEM
from perch.server.kit.crypto import hash_api_key
from perch.server.ratelimit import KeyLimiter
from perch.server.routing import dialect_router, include
from perch.server.runtime import Runtime
from tests.fixtures.app import ApiUser
from tests.helpers import until

GATE: asyncio.Event


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(
        update={"rate_concurrency": 1, "rate_queue": 2, "rate_wait": timedelta(seconds=0.5)}
    )


@pytest.fixture
async def slow_routes(app: FastAPI) -> AsyncIterator[None]:
    global GATE
    GATE = asyncio.Event()
    for dialect, prefix in ((PROBLEM, "/t/rl"), (FIELDS, "/t/rl-fields")):
        router = dialect_router(dialect, prefix=prefix)

        @router.get("/slow")
        async def slow(account: AccountDep) -> dict[str, bool]:
            await GATE.wait()
            return {"ok": True}

        include(app, router)
    yield


def _at(
    runtime: Runtime, user: ApiUser, running: int, waiting: int
) -> Callable[[], Awaitable[bool]]:
    """The user's key has ``running`` requests in and ``waiting`` queued."""

    async def check() -> bool:
        state = runtime.limiter._keys.get(hash_api_key(user.key))
        return state is not None and (state.running, state.waiting) == (running, waiting)

    return check


async def test_queue_full_is_429_in_the_endpoint_dialect(
    user: ApiUser, other_user: ApiUser, runtime: Runtime, slow_routes: None
) -> None:
    running = [
        asyncio.create_task(user.client.get("/t/rl/slow")) for _ in range(3)
    ]  # 1 runs, 2 queue
    await until(_at(runtime, user, 1, 2))
    refused = await user.client.get("/t/rl/slow")
    assert refused.status_code == 429
    assert refused.headers["retry-after"].isdigit()
    assert list(refused.json()) == ["title", "status", "detail", "timestamp"]
    iso = await user.client.get("/t/rl-fields/slow")
    assert iso.status_code == 429 and "details" in iso.json()
    GATE.set()
    assert [r.status_code for r in await asyncio.gather(*running)] == [200, 200, 200]


async def test_a_long_wait_is_429_and_other_keys_are_not_affected(
    user: ApiUser, other_user: ApiUser, runtime: Runtime, slow_routes: None
) -> None:
    blocker = asyncio.create_task(user.client.get("/t/rl/slow"))
    await until(_at(runtime, user, 1, 0))
    waited = await user.client.get("/t/rl/slow")
    assert waited.status_code == 429
    assert "waited too long" in waited.json()["detail"]
    other = asyncio.create_task(other_user.client.get("/t/rl/slow"))
    await until(_at(runtime, other_user, 1, 0))
    GATE.set()
    assert (await blocker).status_code == 200 and (await other).status_code == 200


async def test_limiter_releases_slots() -> None:
    limiter = KeyLimiter(concurrency=2, queue=0, wait=0.1)
    for _ in range(5):
        async with limiter.slot("k"), limiter.slot("k"):
            pass
    assert limiter._keys == {}


async def test_openapi_declares_429(anonymous: httpx.AsyncClient, slow_routes: None) -> None:
    spec = (await anonymous.get("/openapi.json")).json()
    assert "429" in spec["paths"]["/t/rl/slow"]["get"]["responses"]
