"""How Microsoft refuses, in its own shapes.

* identity platform: ``{"error", "error_description": "AADSTS<code>: ...", "error_codes", ...}``
* Graph: ``{"error": {"code", "message", "innerError": {"date", "request-id"}}}``
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse

METADATA = "https://graph.microsoft.com/v1.0/$metadata"

# (status, error, AADSTS code, description)
AAD = {
    "grant": (400, "unsupported_grant_type", 70003, "The app requested an unsupported grant type."),
    "tenant": (
        400, "invalid_request", 90002,
        "Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID and are "
        "signing into the correct cloud.",
    ),
    "app": (
        400, "unauthorized_client", 700016,
        "Application with identifier '{client_id}' was not found in the directory '{tenant}'.",
    ),
    "secret": (
        401, "invalid_client", 7000215,
        "Invalid client secret provided. Ensure the secret being sent in the request is the "
        "client secret value, not the client secret ID, for a secret added to app '{client_id}'.",
    ),
    "expired": (
        401, "invalid_client", 7000222,
        "The provided client secret keys for app '{client_id}' are expired.",
    ),
    "scope": (
        400, "invalid_scope", 1002012,
        "The provided value for scope {scope} is not valid. Client credential flows must have a "
        "scope value with /.default suffixed to the resource identifier (application ID URI).",
    ),
    "transient": (
        503, "temporarily_unavailable", 90033, "A transient error has occurred. Please try again.",
    ),
}  # fmt: skip

# (status, code, message)
GRAPH = {
    "token": (401, "InvalidAuthenticationToken", "Access token validation failure."),
    "directory": (
        403, "Authorization_RequestDenied", "Insufficient privileges to complete the operation.",
    ),
    "mail": (403, "ErrorAccessDenied", "Access is denied. Check credentials and try again."),
    "no_user": (
        404, "Request_ResourceNotFound",
        "Resource '{name}' does not exist or one of its queried reference-property objects are "
        "not present.",
    ),
    "invalid_user": (404, "ErrorInvalidUser", "The requested user '{name}' is invalid."),
    "no_mailbox": (
        404, "MailboxNotEnabledForRESTAPI",
        "The mailbox is either inactive, soft-deleted, or is hosted on-premise.",
    ),
    "concurrency": (
        429, "ApplicationThrottled", "Application is over its MailboxConcurrency limit.",
    ),
}  # fmt: skip

_FAULT_CODES = {429: "TooManyRequests", 503: "ServiceUnavailable", 504: "GatewayTimeout"}


@dataclass
class Fault:
    """An injected failure: ``status`` with an optional ``Retry-After``."""

    status: int
    retry_after: float | None = None
    where: str = "graph"  # "graph", "token" or "any"


def graph_error(kind: str, *, retry_after: float | None = None, **facts: str) -> JSONResponse:
    status, code, message = GRAPH[kind]
    return json_error(status, code, message.format(**facts), retry_after=retry_after)


def json_error(
    status: int, code: str, message: str, *, retry_after: float | None = None
) -> JSONResponse:
    inner = {"date": time.strftime("%Y-%m-%dT%H:%M:%S"), "request-id": str(uuid.uuid4())}
    body = {"error": {"code": code, "message": message, "innerError": inner}}
    return JSONResponse(body, status_code=status, headers=retry_after_header(retry_after))


def aad_error(kind: str, facts: dict[str, Any]) -> JSONResponse:
    status, error, code, description = AAD[kind]
    trace, correlation = str(uuid.uuid4()), str(uuid.uuid4())
    stamp = time.strftime("%Y-%m-%d %H:%M:%SZ", time.gmtime())
    text = (
        f"AADSTS{code}: {description.format(**facts)}\r\nTrace ID: {trace}\r\n"
        f"Correlation ID: {correlation}\r\nTimestamp: {stamp}"
    )
    body = {
        "error": error,
        "error_description": text,
        "error_codes": [code],
        "timestamp": stamp,
        "trace_id": trace,
        "correlation_id": correlation,
        "error_uri": f"https://login.microsoftonline.com/error?code={code}",
    }
    return JSONResponse(body, status_code=status)


def failure(fault: Fault, *, token: bool = False) -> JSONResponse:
    """An injected fault, as the token endpoint or Graph would send it."""
    if token:
        response = aad_error("transient", {})
        response.status_code = fault.status
        response.headers.update(retry_after_header(fault.retry_after) or {})
        return response
    code = _FAULT_CODES.get(fault.status, "UnknownError")
    return json_error(fault.status, code, "Injected by the sandbox.", retry_after=fault.retry_after)


def retry_after_header(value: float | None) -> dict[str, str] | None:
    if value is None:
        return None
    return {"Retry-After": str(int(value)) if value == int(value) else str(value)}


def selected(resource: dict[str, Any], request: Request, context: str | None) -> dict[str, Any]:
    """``resource`` cut to ``$select`` (every property without one), with ``@odata.context``."""
    select = [s.strip() for s in request.query_params.get("$select", "").split(",") if s.strip()]
    body = {k: v for k, v in resource.items() if not select or k in select}
    if context is not None:
        body = {"@odata.context": f"{METADATA}#{context}", **body}
    return body
