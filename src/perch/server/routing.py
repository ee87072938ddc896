"""Routers that speak one error dialect, and the request id every response carries.

    router = dialect_router(PROBLEM, prefix="/rest/v2/inbox", tags=["inbox"])

Every route of such a router renders *all* its errors in that dialect, including 401 from
the auth dependency, request validation failures, malformed JSON and unexpected exceptions
(500). 401, 429 and 500 are declared on every route automatically; declare others with
``responses=DIALECT.responses(400, 404)``.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Coroutine
from contextvars import ContextVar
from typing import Any, ClassVar

import structlog
from fastapi import APIRouter, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from perch.server.errors import PROBLEM, Dialect, PerchError

log = structlog.get_logger(__name__)

REQUEST_ID_HEADER = "X-Request-Id"
REQUEST_FAILED = "perch_failed"  # request.state flag: the route answered with an error
_request_id: ContextVar[str] = ContextVar("perch_request_id", default="")
_VALID_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")


def current_request_id() -> str:
    return _request_id.get() or str(uuid.uuid4())


class DialectRoute(APIRoute):
    dialect: ClassVar[Dialect] = PROBLEM

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        declared = kwargs.pop("responses", None) or {}
        responses = {**self.dialect.responses(401, 429, 500), **declared}
        super().__init__(path, endpoint, responses=responses, **kwargs)
        if self.body_field is not None or self.dependant.path_params or self.dependant.query_params:
            validation = self.dialect.responses(*self.dialect.validation_statuses)
            self.responses = {**validation, **self.responses}

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        dialect = self.dialect

        async def render_errors(request: Request) -> Response:
            try:
                return await handler(request)
            except Exception as exc:  # every error leaves in the route's dialect
                setattr(request.state, REQUEST_FAILED, True)  # its transaction rolls back
                return render(dialect, exc, request)

        return render_errors


def dialect_router(dialect: Dialect, *, prefix: str = "", **kwargs: Any) -> APIRouter:
    route_class = type(f"{dialect.name.title()}Route", (DialectRoute,), {"dialect": dialect})
    return APIRouter(prefix=prefix, route_class=route_class, **kwargs)


def router_dialect(router: APIRouter) -> Dialect | None:
    route_class = router.route_class
    return route_class.dialect if issubclass(route_class, DialectRoute) else None


def include(app: FastAPI, router: APIRouter) -> None:
    """``app.include_router`` that also remembers the router's dialect for its prefix, so
    requests under it that match no route (404, 405) answer in that dialect too."""
    app.include_router(router)
    dialect = router_dialect(router)
    if dialect is not None and router.prefix:
        prefixes: list[tuple[str, Dialect]] = app.state.dialect_prefixes
        prefixes.append((router.prefix, dialect))
        prefixes.sort(key=lambda item: len(item[0]), reverse=True)


def dialect_for_path(app: FastAPI, path: str) -> Dialect:
    for prefix, dialect in getattr(app.state, "dialect_prefixes", []):
        if path == prefix or path.startswith(prefix.rstrip("/") + "/"):
            return dialect
    return PROBLEM


def render(dialect: Dialect, exc: Exception, request: Request | None = None) -> Response:
    error = as_perch_error(dialect, exc)
    if error.status_code >= 500 and not isinstance(exc, PerchError):
        path = request.url.path if request else None
        log.error("request.failed", path=path, exc_info=exc)
    return dialect.render(error, current_request_id())


def as_perch_error(dialect: Dialect, exc: Exception) -> PerchError:
    if isinstance(exc, PerchError):
        return exc
    if isinstance(exc, RequestValidationError):
        return dialect.from_validation(exc.errors())
    if isinstance(exc, StarletteHTTPException):
        error = PerchError(str(exc.detail), headers=dict(exc.headers or {}))
        error.status_code = exc.status_code
        return _with_known_detail(error)
    return PerchError()


def _with_known_detail(error: PerchError) -> PerchError:
    if error.status_code == 404:
        error.detail = "Requested resource does not exist"
    return error


class RequestIdMiddleware:
    """Takes a sane incoming ``X-Request-Id`` or makes one; sets it on the response and logs."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = dict(scope["headers"]).get(b"x-request-id", b"").decode("latin-1")
        request_id = incoming if _VALID_ID.match(incoming) else str(uuid.uuid4())
        token = _request_id.set(request_id)
        structlog.contextvars.bind_contextvars(request_id=request_id)

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [h for h in message.get("headers", []) if h[0].lower() != b"x-request-id"]
                headers.append((b"x-request-id", request_id.encode()))
                message["headers"] = headers
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            structlog.contextvars.unbind_contextvars("request_id")
            _request_id.reset(token)
