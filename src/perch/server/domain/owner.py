"""The domain owner (registrant contact): one per account, replaced as a whole.

Perch registers no domains, so the owner is only recorded (and copied onto each domain ordered
afterwards); the checks are those of the Woodpecker reference, without per-country rules.
"""

from __future__ import annotations

import re

from sqlalchemy.ext.asyncio import AsyncSession

from perch.server.domain import errors, repository
from perch.server.domain.schemas import OwnerConfiguration, OwnerContact, OwnerRead, OwnerWrite
from perch.server.errors import Conflict, FieldIssue, InvalidFields
from perch.server.kit.timefmt import utcnow
from perch.server.models.domain_owner import DomainOwner

CONTACT_FIELDS = tuple(OwnerContact.model_fields)
REQUIRED = (
    "email",
    "first_name",
    "last_name",
    "address",
    "city",
    "state",
    "country",
    "zip_code",
    "phone",
)
_LIMITS = {"email": 320, "company_name": 200, "address": 300, "zip_code": 20, "phone": 40}
_EMAIL = re.compile(r"^[^@\s]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$")
_PHONE = re.compile(r"^\+?[0-9]{6,15}$")
_PHONE_SEPARATORS = re.compile(r"[\s().-]")
_ZIP = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 -]{0,18}[A-Za-z0-9]?$")


async def get(session: AsyncSession, account_id: int) -> OwnerRead:
    return read(await repository.owner(session, account_id))


async def replace(session: AsyncSession, account_id: int, body: OwnerWrite) -> OwnerRead:
    issues = contact_issues(body) + configuration_issues(body.configuration)
    if issues:
        raise InvalidFields(issues)
    row = await repository.owner(session, account_id) or DomainOwner(account_id=account_id)
    for name in CONTACT_FIELDS:
        value = getattr(body, name)
        setattr(row, name, value.strip() if value and value.strip() else None)
    config = body.configuration or OwnerConfiguration()
    row.default_domain_redirect_url = config.default_domain_redirect_url or None
    row.default_email_forward_address = config.default_email_forward_address or None
    row.updated_at = utcnow()
    try:
        await repository.add(session, row)
    except repository.Duplicate as e:
        raise Conflict(detail="The owner was saved by another request meanwhile") from e
    return read(row)


def read(row: DomainOwner | None) -> OwnerRead:
    contact = contact_of(row)
    configuration = OwnerConfiguration(
        default_domain_redirect_url=row.default_domain_redirect_url if row else None,
        default_email_forward_address=row.default_email_forward_address if row else None,
    )
    return OwnerRead(**contact, configuration=configuration)


def contact_of(row: DomainOwner | None) -> dict[str, str | None]:
    return {name: getattr(row, name) if row else None for name in CONTACT_FIELDS}


def contact_issues(body: OwnerWrite) -> list[FieldIssue]:
    issues = []
    for name in CONTACT_FIELDS:
        value = getattr(body, name)
        problem = _problem(name, value.strip() if value is not None else None)
        if problem is not None:
            issues.append(FieldIssue(name, problem, value))
    return issues


def _problem(name: str, value: str | None) -> str | None:
    if not value:
        return (
            (errors.REQUIRED if value is None else errors.NOT_EMPTY) if name in REQUIRED else None
        )
    if len(value) > _LIMITS.get(name, 100):
        return f"must be at most {_LIMITS.get(name, 100)} characters"
    if name == "email" and not _EMAIL.match(value):
        return errors.INVALID_EMAIL
    if name == "phone" and not _PHONE.match(_PHONE_SEPARATORS.sub("", value)):
        return "must be a valid phone number"
    if name == "zip_code" and not _ZIP.match(value):
        return "must be a valid postal code"
    return None


def configuration_issues(config: OwnerConfiguration | None) -> list[FieldIssue]:
    if config is None:
        return []
    url, forward = config.default_domain_redirect_url, config.default_email_forward_address
    checks = [
        ("default_domain_redirect_url", url, _url_problem(url)),
        ("default_email_forward_address", forward, _forward_problem(forward)),
    ]
    return [
        FieldIssue(f"configuration.{name}", problem, value)
        for name, value, problem in checks
        if problem
    ]


def _url_problem(url: str | None) -> str | None:
    if not url:
        return None
    if len(url) > 2000:
        return "must be at most 2000 characters"
    return (
        None if url.startswith(("http://", "https://")) else "must start with http:// or https://"
    )


def _forward_problem(address: str | None) -> str | None:
    if not address:
        return None
    return None if len(address) <= 320 and _EMAIL.match(address) else errors.INVALID_EMAIL
