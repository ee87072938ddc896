"""The fake's data: app registrations, directory users, issued tokens, ``$filter``."""

from __future__ import annotations

import functools
import re
import secrets
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import jwt

GRAPH_SCOPE = "https://graph.microsoft.com/.default"
DEFAULT_ROLES = ("User.Read.All", "Mail.ReadWrite", "Mail.Send")
DIRECTORY_ROLES = {"User.Read.All", "User.ReadBasic.All", "Directory.Read.All"}
MAIL_READ_ROLES = {"Mail.Read", "Mail.ReadBasic", "Mail.ReadBasic.All", "Mail.ReadWrite"}

_CLAUSE = re.compile(r"^(\w+) eq '((?:[^']|'')*)'$")
_ANY = re.compile(r"^proxyAddresses/any\((\w+):\s*\1 eq '((?:[^']|'')*)'\)$", re.IGNORECASE)


@dataclass
class FakeApp:
    """An app registration: client id and secret in a tenant, with its application roles."""

    tenant: str
    client_id: str
    secret: str
    roles: tuple[str, ...] = DEFAULT_ROLES
    secret_expired: bool = False


@dataclass
class FakeUser:
    id: str
    user_principal_name: str
    mail: str | None
    display_name: str | None
    proxy_addresses: list[str]  # "SMTP:primary", "smtp:alias", as Exchange writes them
    has_mailbox: bool = True
    access_denied: bool = False  # an application access policy keeps the app out of the mailbox
    tenant: str | None = None  # None: in every tenant's directory

    def resource(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "displayName": self.display_name,
            "mail": self.mail,
            "userPrincipalName": self.user_principal_name,
            "proxyAddresses": list(self.proxy_addresses),
            "givenName": None,
            "surname": None,
            "jobTitle": None,
            "businessPhones": [],
        }

    def names(self) -> set[str]:
        """Every way to name this user: id, UPN, mail and proxy addresses (lower-case)."""
        found = {self.id.lower(), self.user_principal_name.lower(), (self.mail or "").lower()}
        found |= {p.partition(":")[2].lower() for p in self.proxy_addresses}
        return found - {""}


@dataclass(frozen=True)
class Caller:
    """Who a bearer token speaks for."""

    tenant: str
    roles: frozenset[str]


@dataclass
class Tokens:
    """Issues JWT access tokens and recognises them until they expire."""

    lifetime: int = 3599
    _issued: dict[str, tuple[Caller, float]] = field(default_factory=dict)
    _key: str = field(default_factory=lambda: secrets.token_hex(32))

    def issue(self, app: FakeApp) -> dict[str, Any]:
        now = int(time.time())
        claims = {
            "aud": "https://graph.microsoft.com",
            "iss": f"https://sts.windows.net/{app.tenant}/",
            "iat": now,
            "nbf": now,
            "exp": now + self.lifetime,
            "tid": app.tenant,
            "appid": app.client_id,
            "roles": list(app.roles),
            "jti": uuid.uuid4().hex,
        }
        token = jwt.encode(claims, self._key, algorithm="HS256")
        caller = Caller(app.tenant, frozenset(app.roles))
        self._issued[token] = (caller, time.monotonic() + self.lifetime)
        return {
            "token_type": "Bearer",
            "expires_in": self.lifetime,
            "ext_expires_in": self.lifetime,
            "access_token": token,
        }

    def revoke_all(self) -> None:
        """Every token issued so far stops working (Graph answers 401)."""
        self._issued.clear()

    def caller(self, authorization: str) -> Caller | None:
        scheme, _, token = authorization.partition(" ")
        found = self._issued.get(token) if scheme.lower() == "bearer" else None
        if found is None or found[1] < time.monotonic():
            return None
        return found[0]


def user_filter(expression: str) -> list[Callable[[FakeUser], bool]]:
    """The supported ``$filter`` clauses joined by ``or``, as predicates (any one matches).

    ``mail eq 'a'``, ``userPrincipalName eq 'a'``, ``proxyAddresses/any(x:x eq 'smtp:a')``;
    anything else raises ``ValueError`` (Graph: 400 ``Request_UnsupportedQuery``)."""
    return [_clause(c.strip()) for c in re.split(r"\s+or\s+", expression.strip())]


def _clause(clause: str) -> Callable[[FakeUser], bool]:
    if (found := _ANY.match(clause)) is not None:
        return functools.partial(_has_proxy, _literal(found.group(2)))
    if (found := _CLAUSE.match(clause)) and found.group(1) in ("mail", "userPrincipalName"):
        return functools.partial(_property_is, found.group(1), _literal(found.group(2)))
    raise ValueError(f"Unsupported or invalid query filter clause specified: {clause!r}")


def _has_proxy(wanted: str, user: FakeUser) -> bool:
    return wanted in {p.lower() for p in user.proxy_addresses}


def _property_is(prop: str, wanted: str, user: FakeUser) -> bool:
    return str(user.resource()[prop] or "").lower() == wanted


def _literal(quoted: str) -> str:
    return quoted.replace("''", "'").lower()
