"""Request and response bodies of the Microsoft endpoints.

Request models are permissive on purpose (every field optional, strings as strings): the
service checks them and answers with the endpoint's own codes and messages instead of a
generic validation error.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

from pydantic import BaseModel

from perch.server.deliverability.schemas import DeliverabilityRead
from perch.server.kit.timefmt import iso_z
from perch.server.models.microsoft_credential import MicrosoftCredential

# A tenant id is a GUID or a verified domain; it becomes a path segment of the token URL.
_TENANT = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9.-]{0,98}[A-Za-z0-9])?$")
_NO_SPACE = re.compile(r"^\S+$")
NAME_MAX, ID_MAX, SECRET_MAX = 200, 100, 1024


class CredentialRead(BaseModel):
    credential_id: int
    tenant_id: str
    client_id: str
    secret_expires_at: str  # ISO 8601 with Z
    name: str

    @classmethod
    def of(cls, row: MicrosoftCredential) -> CredentialRead:
        return cls(
            credential_id=row.id,
            tenant_id=row.tenant_id,
            client_id=row.client_id,
            secret_expires_at=iso_z(row.secret_expires_at),
            name=row.name,
        )


class CredentialList(BaseModel):
    credentials: list[CredentialRead]


class CredentialCreate(BaseModel):
    tenant_id: str | None = None
    client_id: str | None = None
    client_secret: str | None = None
    secret_expires_at: str | None = None
    name: str | None = None

    def problems(self, now: datetime) -> list[str]:
        found = [
            _tenant_problem(self.tenant_id),
            _text_problem("client_id", self.client_id, ID_MAX, spaces=False),
            _secret_problem(self.client_secret),
            _expiry_problem(self.secret_expires_at, now),
            _name_problem(self.name),
        ]
        return [p for p in found if p]


class CredentialUpdate(BaseModel):
    name: str | None = None
    client_secret: str | None = None
    secret_expires_at: str | None = None

    @property
    def rotates(self) -> bool:
        return self.client_secret is not None or self.secret_expires_at is not None

    def problems(self, now: datetime) -> list[str]:
        if self.name is None and not self.rotates:
            return ["Nothing to update: send name, or client_secret with secret_expires_at"]
        found = [_name_problem(self.name)]
        if self.rotates and (self.client_secret is None or self.secret_expires_at is None):
            found.append("client_secret and secret_expires_at must be sent together")
        elif self.rotates:
            found.append(_secret_problem(self.client_secret))
            found.append(_expiry_problem(self.secret_expires_at, now))
        return [p for p in found if p]


def parse_expiry(value: str) -> datetime:
    """ISO 8601; ``Z`` or an offset, or no zone (taken as UTC)."""
    parsed = datetime.fromisoformat(value.strip())
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def _tenant_problem(value: str | None) -> str | None:
    if value is None or not value.strip():
        return "tenant_id is required"
    if not _TENANT.match(value.strip()):
        return "tenant_id must be a directory (tenant) ID or a verified domain name"
    return None


def _text_problem(field: str, value: str | None, limit: int, *, spaces: bool) -> str | None:
    if value is None or not value.strip():
        return f"{field} is required"
    if len(value) > limit:
        return f"{field} must be at most {limit} characters"
    if not spaces and not _NO_SPACE.match(value):
        return f"{field} must not contain spaces"
    return None


def _secret_problem(value: str | None) -> str | None:
    return _text_problem("client_secret", value, SECRET_MAX, spaces=False)


def _expiry_problem(value: str | None, now: datetime) -> str | None:
    if value is None or not value.strip():
        return "secret_expires_at is required"
    try:
        expires = parse_expiry(value)
    except ValueError:
        return "secret_expires_at must be an ISO 8601 date-time, e.g. 2027-11-28T23:59:59Z"
    return "secret_expires_at must be in the future" if expires <= now else None


def _name_problem(value: str | None) -> str | None:
    if value is not None and not value.strip():
        return "name must not be empty"
    if value is not None and len(value.strip()) > NAME_MAX:
        return f"name must be at most {NAME_MAX} characters"
    return None


class BulkAccount(BaseModel):
    mailbox_email: str | None = None
    display_name: str | None = None


class BulkCreate(BaseModel):
    auth_type: str | None = None  # APP_ONLY when omitted
    credential_id: int | None = None
    accounts: list[BulkAccount] | None = None


class BulkResult(BaseModel):
    success: bool
    id: int | None
    email: str
    name: str | None
    deliverability: DeliverabilityRead | None
    error: str | None
