"""``GET /healthz``: is the database reachable, is the broker reachable, who schedules."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy import text

from perch.server.runtime import Runtime

router = APIRouter(tags=["operations"])


async def _database(runtime: Runtime) -> dict[str, Any]:
    try:
        async with runtime.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
        return {"ok": True, "dialect": runtime.engine.dialect.name}
    except Exception as e:
        return {"ok": False, "error": type(e).__name__}


async def _broker(runtime: Runtime) -> dict[str, Any]:
    scheme = runtime.settings.broker_url.split(":", 1)[0]
    try:
        await runtime.broker_ping()
        return {"ok": True, "kind": scheme}
    except Exception as e:
        return {"ok": False, "kind": scheme, "error": type(e).__name__}


HEALTH_SCHEMA = {
    "type": "object",
    "properties": {
        "status": {"type": "string", "enum": ["ok", "degraded"]},
        "database": {"type": "object"},
        "broker": {"type": "object"},
        "scheduler": {"type": "object"},
    },
    "required": ["status", "database", "broker", "scheduler"],
}
RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "Database and broker answer",
        "content": {"application/json": {"schema": HEALTH_SCHEMA}},
    },
    503: {
        "description": "Database or broker unreachable",
        "content": {"application/json": {"schema": HEALTH_SCHEMA}},
    },
}


@router.get("/healthz", summary="Database and broker health", responses=RESPONSES)
async def healthz(request: Request) -> JSONResponse:
    runtime: Runtime = request.app.state.runtime
    database, broker = await _database(runtime), await _broker(runtime)
    ok = database["ok"] and broker["ok"]
    body = {
        "status": "ok" if ok else "degraded",
        "database": database,
        "broker": broker,
        "scheduler": {"leader": request.app.state.scheduler.is_leader, "node": runtime.node},
    }
    return JSONResponse(body, status_code=200 if ok else 503)
