"""Errors and the Woodpecker error dialects.

Domain code raises a ``PerchError``; the router that served the request renders it in its
dialect. Error tree::

    PerchError (500)
    ├── BadRequest (400)
    │   ├── InvalidJson            malformed or empty JSON body
    │   └── ValidationFailure      a list of messages (``{code, details[]}`` dialect)
    ├── Unauthorized (401)
    ├── NotFound (404)
    ├── Conflict (409)             optionally a list of messages
    ├── Unprocessable (422)
    │   ├── InvalidFields          ``fields[{field, issue, value}]``
    │   └── RejectedWithCode       ``{"message": CODE}``
    ├── TooManyRequests (429)
    └── ServiceUnavailable (503)

The dialects (``perch.server.dialects``) decide the body; an error only carries facts.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.responses import Response

from perch.server.kit.timefmt import iso_z, legacy, utcnow


class PerchError(Exception):
    status_code = 500
    default_detail = "An unexpected error has occurred. Please try again later."

    def __init__(self, detail: str | None = None, *, headers: dict[str, str] | None = None):
        self.detail = detail or self.default_detail
        self.headers = headers or {}
        super().__init__(self.detail)


class BadRequest(PerchError):
    status_code = 400
    default_detail = "Invalid request body"


class InvalidJson(BadRequest):
    default_detail = "Invalid request body"


class ValidationFailure(BadRequest):
    """Several problems at once, each a readable sentence (``mailbox[0].smtp_port ...``)."""

    def __init__(self, details: Sequence[str], *, code: str = "VALIDATION_FAILURE"):
        self.details = list(details)
        self.code = code
        super().__init__("; ".join(self.details) or None)


class Unauthorized(PerchError):
    status_code = 401
    default_detail = "Invalid api key"


class NotFound(PerchError):
    status_code = 404
    default_detail = "Requested resource does not exist"


class Conflict(PerchError):
    status_code = 409
    default_detail = "Conflict"

    def __init__(self, details: Sequence[str] = (), *, detail: str | None = None):
        self.details = list(details)
        super().__init__(detail or "; ".join(self.details) or None)


class Unprocessable(PerchError):
    status_code = 422
    default_detail = "Unprocessable Entity"


@dataclass(frozen=True)
class FieldIssue:
    field: str
    issue: str
    value: str | None = None


class InvalidFields(Unprocessable):
    def __init__(self, fields: Sequence[FieldIssue]):
        self.fields = list(fields)
        super().__init__("; ".join(f"{f.field} {f.issue}" for f in self.fields))


class RejectedWithCode(Unprocessable):
    def __init__(self, code: str, detail: str | None = None):
        self.code = code
        super().__init__(detail or code)


class TooManyRequests(PerchError):
    status_code = 429
    default_detail = "Too many requests, please retry later"


class ServiceUnavailable(PerchError):
    status_code = 503
    default_detail = "Service unavailable, please try again later"


# --------------------------------------------------------------------------------------------
# Dialects: how each family of Woodpecker endpoints spells an error.
# --------------------------------------------------------------------------------------------

_PHRASES = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    409: "Conflict",
    413: "Payload Too Large",
    415: "Unsupported Media Type",
    422: "Unprocessable Entity",
    429: "Too Many Requests",
    500: "Internal Server Error",
    503: "Service Unavailable",
}


class ProblemBody(BaseModel):
    """``{title, status, detail, timestamp "YYYY-MM-DD HH:MM:SS"}`` (UTC)."""

    title: str
    status: int
    detail: str
    timestamp: str = Field(examples=["2025-03-05 17:57:00"])


class ProblemIsoBody(BaseModel):
    """``{title, status, details, timestamp ISO-8601 Z}``: the domains API."""

    title: str
    status: int
    details: str
    timestamp: str = Field(examples=["2026-05-06T12:00:00Z"])


class CodeDetailsBody(BaseModel):
    """``{code, details[]}``: manual-connection bulk."""

    code: str
    details: list[str]


class FieldIssueBody(BaseModel):
    field: str
    issue: str
    value: str | None


class FieldsBody(BaseModel):
    """``{type, message, code, request_id, fields[]}``: domain validation errors."""

    type: str = "validation_error"
    message: str = "Invalid field(s)"
    code: str = "invalid_fields"
    request_id: str | None
    fields: list[FieldIssueBody]


class MessageCodeBody(BaseModel):
    """``{"message": CODE}``: Microsoft bulk 422."""

    message: str


def _json(status: int, body: BaseModel | None, headers: dict[str, str]) -> Response:
    if body is None:
        return Response(status_code=status, headers=headers)
    return JSONResponse(body.model_dump(mode="json"), status_code=status, headers=headers)


class Dialect:
    """Renders errors; ``fallback`` renders what this dialect has no special shape for."""

    name = "dialect"

    def body(self, error: PerchError, request_id: str) -> BaseModel | None:
        raise NotImplementedError

    def from_validation(self, errors: Sequence[Any]) -> PerchError:
        """A FastAPI/pydantic request validation error, as this dialect reports it."""
        return _generic_validation(errors)

    def render(self, error: PerchError, request_id: str) -> Response:
        return _json(error.status_code, self.body(error, request_id), error.headers)

    def response_model(self, status: int) -> type[BaseModel] | None:
        raise NotImplementedError

    validation_statuses: tuple[int, ...] = (400,)

    def responses(self, *statuses: int) -> dict[int | str, dict[str, Any]]:
        """OpenAPI ``responses`` entries for these statuses, in this dialect."""
        out: dict[int | str, dict[str, Any]] = {}
        for status in statuses:
            model = self.response_model(status)
            entry: dict[str, Any] = {"description": _PHRASES.get(status, str(status))}
            if model is None:
                entry["content"] = {}
            else:
                entry["model"] = model
            out[status] = entry
        return out


class ProblemDialect(Dialect):
    def __init__(self, name: str, *, iso: bool, titles: dict[int, str]):
        self.name = name
        self.iso = iso
        self.titles = titles

    def title(self, status: int) -> str:
        return self.titles.get(status) or _PHRASES.get(status, "Error")

    def body(self, error: PerchError, request_id: str) -> BaseModel | None:
        status, title, now = error.status_code, self.title(error.status_code), utcnow()
        if self.iso:
            return ProblemIsoBody(
                title=title, status=status, details=error.detail, timestamp=iso_z(now)
            )
        return ProblemBody(title=title, status=status, detail=error.detail, timestamp=legacy(now))

    def response_model(self, status: int) -> type[BaseModel] | None:
        return ProblemIsoBody if self.iso else ProblemBody


class _Layered(Dialect):
    """A dialect that shapes some errors itself and hands the rest to a problem dialect."""

    def __init__(self, name: str, fallback: ProblemDialect):
        self.name = name
        self.fallback = fallback

    def body(self, error: PerchError, request_id: str) -> BaseModel | None:
        return self.fallback.body(error, request_id)

    def response_model(self, status: int) -> type[BaseModel] | None:
        return self.fallback.response_model(status)


class CodeDetailsDialect(_Layered):
    """400 and 409 as ``{code, details[]}``; everything else as the fallback."""

    def body(self, error: PerchError, request_id: str) -> BaseModel | None:
        if isinstance(error, ValidationFailure):
            return CodeDetailsBody(code=error.code, details=error.details)
        if isinstance(error, InvalidJson):
            return CodeDetailsBody(code="UNKNOWN", details=[error.detail])
        if isinstance(error, BadRequest):
            return CodeDetailsBody(code="VALIDATION_FAILURE", details=[error.detail])
        if isinstance(error, Conflict):
            return CodeDetailsBody(code="Conflict", details=error.details or [error.detail])
        return super().body(error, request_id)

    def response_model(self, status: int) -> type[BaseModel] | None:
        if status in (400, 409):
            return CodeDetailsBody
        return super().response_model(status)


class FieldsDialect(_Layered):
    """422 as ``{type, message, code, request_id, fields[]}``."""

    validation_statuses = (400, 422)

    def body(self, error: PerchError, request_id: str) -> BaseModel | None:
        if isinstance(error, InvalidFields):
            fields = [
                FieldIssueBody(field=f.field, issue=f.issue, value=f.value) for f in error.fields
            ]
            return FieldsBody(request_id=request_id, fields=fields)
        return super().body(error, request_id)

    def from_validation(self, errors: Sequence[Any]) -> PerchError:
        if any(err.get("type") == "json_invalid" for err in errors):
            return InvalidJson("Malformed JSON request body")
        return InvalidFields([_field_issue(err) for err in errors])

    def response_model(self, status: int) -> type[BaseModel] | None:
        return FieldsBody if status == 422 else super().response_model(status)


class MessageCodeDialect(_Layered):
    """422 as ``{"message": CODE}``; 400 with no body at all."""

    def body(self, error: PerchError, request_id: str) -> BaseModel | None:
        if isinstance(error, RejectedWithCode):
            return MessageCodeBody(message=error.code)
        if isinstance(error, BadRequest):
            return None
        return super().body(error, request_id)

    def response_model(self, status: int) -> type[BaseModel] | None:
        if status == 400:
            return None
        return MessageCodeBody if status == 422 else super().response_model(status)


def _generic_validation(errors: Sequence[Any]) -> PerchError:
    first = errors[0] if errors else {}
    if first.get("type") == "json_invalid" or not first.get("loc") or first["loc"][0] == "body":
        return InvalidJson() if first.get("type") == "json_invalid" else BadRequest()
    return BadRequest(f"Value of {first['loc'][-1]} is incorrect.")


def _field_issue(err: dict[str, Any]) -> FieldIssue:
    loc = [str(part) for part in err.get("loc", ()) if part not in ("body", "query", "path")]
    value = err.get("input")
    shown = None if err.get("type") == "missing" or isinstance(value, dict | list) else value
    return FieldIssue(".".join(loc) or "body", err.get("msg", "is invalid"), _scalar(shown))


def _scalar(value: object) -> str | None:
    return None if value is None else str(value)


PROBLEM = ProblemDialect(
    "problem",
    iso=False,
    titles={500: "Internal server error"},
)
PROBLEM_ISO = ProblemDialect("problem_iso", iso=True, titles={})
CODE_DETAILS = CodeDetailsDialect("code_details", PROBLEM)
FIELDS = FieldsDialect("fields", PROBLEM_ISO)
MESSAGE_CODE = MessageCodeDialect("message_code", PROBLEM)
