"""Typed values the Microsoft adapter takes and returns."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlencode

import jwt

USER_FIELDS = "id,displayName,mail,userPrincipalName,proxyAddresses"


@dataclass(frozen=True)
class AppCredential:
    """An app registration's client credentials (the secret decrypted, only in memory)."""

    tenant_id: str
    client_id: str
    client_secret: str = field(repr=False)

    @property
    def cache_key(self) -> str:
        material = f"{self.tenant_id}\0{self.client_id}\0{self.client_secret}".encode()
        return hashlib.sha256(material).hexdigest()


@dataclass(frozen=True)
class AccessToken:
    value: str = field(repr=False)
    expires_in: float
    roles: frozenset[str] | None  # the app's application permissions, when the token says


def granted_roles(access_token: str) -> frozenset[str] | None:
    """The ``roles`` claim of an app-only token; None when the token is not a readable JWT."""
    try:
        claims = jwt.decode(access_token, options={"verify_signature": False})
    except jwt.PyJWTError:
        return None
    roles = claims.get("roles", [])
    return frozenset(str(r) for r in roles) if isinstance(roles, list) else None


@dataclass(frozen=True)
class GraphCall:
    """One Graph request: alone (``MicrosoftGraph.call``) or inside a ``$batch``.

    ``mailbox`` names the mailbox it works in (user id or UPN), for the per-mailbox limit."""

    method: str
    path: str  # below the version root, e.g. "/users/jim%40contoso.com"
    params: dict[str, str] = field(default_factory=dict)
    body: Any = None
    mailbox: str | None = None

    def relative_url(self) -> str:
        return f"{self.path}?{urlencode(self.params)}" if self.params else self.path

    @staticmethod
    def user(user: str) -> GraphCall:
        """``GET /users/{id or userPrincipalName}``."""
        return GraphCall("GET", f"/users/{segment(user)}", {"$select": USER_FIELDS}, mailbox=user)

    @staticmethod
    def users_by_address(address: str) -> GraphCall:
        """Users whose mail, user principal name or any proxy address is ``address``."""
        literal = address.replace("'", "''")
        query = (
            f"mail eq '{literal}' or userPrincipalName eq '{literal}' or "
            f"proxyAddresses/any(x:x eq 'smtp:{literal}')"
        )
        return GraphCall("GET", "/users", {"$filter": query, "$select": USER_FIELDS})

    @staticmethod
    def inbox(user: str) -> GraphCall:
        """``GET /users/{user}/mailFolders/inbox``: the mailbox exists and the app may read it."""
        path = f"/users/{segment(user)}/mailFolders/inbox"
        return GraphCall("GET", path, {"$select": "id,displayName"}, mailbox=user)


def segment(value: str) -> str:
    return quote(value, safe="@")


@dataclass(frozen=True)
class GraphUser:
    id: str
    display_name: str | None
    mail: str | None
    user_principal_name: str
    proxy_addresses: tuple[str, ...]

    @classmethod
    def from_graph(cls, data: dict[str, Any]) -> GraphUser:
        return cls(
            id=str(data["id"]),
            display_name=data.get("displayName"),
            mail=data.get("mail"),
            user_principal_name=str(data.get("userPrincipalName") or ""),
            proxy_addresses=tuple(data.get("proxyAddresses") or ()),
        )

    def is_primary(self, address: str) -> bool:
        """``address`` is the user's mail or user principal name (not one of its aliases)."""
        return address.lower() in {(self.mail or "").lower(), self.user_principal_name.lower()}

    def has_alias(self, address: str) -> bool:
        aliases = {p.partition(":")[2].lower() for p in self.proxy_addresses}
        return address.lower() in aliases


@dataclass(frozen=True)
class MailFolder:
    id: str
    display_name: str | None

    @classmethod
    def from_graph(cls, data: dict[str, Any]) -> MailFolder:
        return cls(id=str(data["id"]), display_name=data.get("displayName"))
