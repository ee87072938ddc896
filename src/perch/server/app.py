"""create_app(): routers, exception handlers, and the lifespan that builds the Runtime."""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import importlib.util
import pkgutil
from collections.abc import AsyncIterator
from typing import Any

import structlog
from fastapi import APIRouter, FastAPI, Request
from fastapi.openapi.utils import get_openapi
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

import perch
import perch.server
from perch.server import health
from perch.server.config import Settings, get_settings
from perch.server.errors import PROBLEM
from perch.server.routing import RequestIdMiddleware, dialect_for_path, include, render
from perch.server.runtime import Runtime
from perch.server.worker.scheduler import Scheduler, recover_abandoned

log = structlog.get_logger(__name__)


def domain_routers() -> list[APIRouter]:
    """``router`` of every ``perch.server.<domain>.endpoints`` module, in name order."""
    routers = []
    for info in sorted(pkgutil.iter_modules(perch.server.__path__), key=lambda m: m.name):
        name = f"perch.server.{info.name}.endpoints"
        if info.ispkg and importlib.util.find_spec(name) is not None:
            routers.append(importlib.import_module(name).router)
    return routers


@contextlib.asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    runtime: Runtime = app.state.runtime_factory()
    app.state.runtime = runtime
    await runtime.start_broker(worker=runtime.settings.is_memory_broker)
    if runtime.settings.is_memory_broker:
        await recover_abandoned(runtime)
    scheduler = Scheduler(runtime)
    app.state.scheduler = scheduler
    task = asyncio.create_task(scheduler.run_forever())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(BaseException):
            await task
        with contextlib.suppress(Exception):
            await scheduler.release()
        await runtime.close()


def create_app(settings: Settings | None = None, runtime: Runtime | None = None) -> FastAPI:
    settings = settings or (runtime.settings if runtime else get_settings())
    app = FastAPI(
        title="Perch",
        version=perch.__version__,
        description="Self-hosted mailboxes, domains and inbox behind the Woodpecker REST API v2.",
        lifespan=_lifespan,
    )
    app.state.runtime_factory = (lambda: runtime) if runtime else (lambda: Runtime(settings))
    app.state.dialect_prefixes = []
    for router in [health.router, *domain_routers()]:
        include(app, router)
    _install_error_handlers(app)
    app.add_middleware(RequestIdMiddleware)
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
    return app


def _install_error_handlers(app: FastAPI) -> None:
    async def unmatched(request: Request, exc: Exception) -> Response:
        return render(dialect_for_path(app, request.url.path), exc, request)

    async def unexpected(request: Request, exc: Exception) -> Response:
        return render(PROBLEM, exc, request)

    app.add_exception_handler(StarletteHTTPException, unmatched)
    app.add_exception_handler(Exception, unexpected)


def _openapi(app: FastAPI) -> dict[str, Any]:
    """FastAPI's document without its default 422 bodies, which Perch never sends."""
    if app.openapi_schema:
        return app.openapi_schema
    schema = get_openapi(
        title=app.title, version=app.version, description=app.description, routes=app.routes
    )
    for path_item in schema.get("paths", {}).values():
        for operation in path_item.values():
            _drop_default_422(operation.get("responses", {}))
    for name in ("HTTPValidationError", "ValidationError"):
        schema.get("components", {}).get("schemas", {}).pop(name, None)
    app.openapi_schema = schema
    return schema


def _drop_default_422(responses: dict[str, Any]) -> None:
    content = responses.get("422", {}).get("content", {}).get("application/json", {})
    if content.get("schema", {}).get("$ref", "").endswith("/HTTPValidationError"):
        del responses["422"]
