"""Google Workspace: OAuth tokens by the JWT-bearer grant and the Admin SDK Directory API.

    key = ServiceAccountKey.parse(json_text_or_dict)        # InvalidServiceAccountKey
    credential = DelegatedCredential(key, subject="admin@piedpiper.com")
    google = GoogleDirectory(runtime.http, token_url=..., directory_url=..., tokens=TokenCache())
    domain = await google.get_domain(credential, "piedpiper.com")
    user = await google.insert_user(credential, NewUser(...))
    await google.update_photo(credential, user.id, Photo(data, "image/png", 96, 96))

Tokens come from the JWT-bearer grant (RFC 7523): an RS256 JWT signed with the service
account's private key (``kid`` its ``private_key_id``), ``iss`` the service account, ``sub`` the
administrator it acts as (domain-wide delegation), ``scope`` the Directory scopes, ``aud`` the
token URL, one hour long. They are cached per credential until shortly before they expire.

One method per remote call, all through ``_send`` (retries) and ``_handle`` (errors): 429, 5xx
and network errors are retried up to ``max_retries`` times, waiting for ``Retry-After`` when
Google sends one (an exponential backoff otherwise; a wait longer than ``max_retry_after``
gives up at once). A 401 from the Directory API is retried once with a fresh token.

Exceptions::

    GoogleError
    ├── GoogleUnavailable        transient: network, timeout, 429, 5xx (retries exhausted)
    └── GoogleRefused            permanent: Google answered no (.status, .reason, .message)
        ├── TokenRefused         the token endpoint refused the grant (invalid_grant, ...)
        ├── DirectoryForbidden   401/403: not authorized for this resource or scope
        ├── DirectoryNotFound    404: no such domain, user or photo
        └── DirectoryConflict    409: e.g. a user with this address already exists
    InvalidServiceAccountKey (ValueError): the JSON key cannot be used at all
"""

from __future__ import annotations

import asyncio
import base64
import functools
import hashlib
import json
import random
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import httpx
import jwt
import structlog
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import load_pem_private_key

from perch.server.integrations import httpkit

log = structlog.get_logger(__name__)

JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
DIRECTORY_SCOPES = (
    "https://www.googleapis.com/auth/admin.directory.user",
    "https://www.googleapis.com/auth/admin.directory.domain.readonly",
)
TOKEN_LIFETIME = 3600


class GoogleError(Exception):
    """Base of everything the Google adapter raises."""


class GoogleUnavailable(GoogleError):
    """Transient: Google could not be reached or kept answering 429/5xx."""


class GoogleRefused(GoogleError):
    """Permanent: Google answered and refused; ``reason`` is its error code."""

    def __init__(self, status: int, reason: str, message: str) -> None:
        self.status, self.reason, self.message = status, reason, message
        super().__init__(f"{status} {reason}: {message}")


class TokenRefused(GoogleRefused):
    """The token endpoint refused the grant (``reason``: invalid_grant, unauthorized_client)."""


class DirectoryForbidden(GoogleRefused):
    """401/403: the token is not accepted for this resource."""


class DirectoryNotFound(GoogleRefused):
    """404: no such domain, user or photo."""


class DirectoryConflict(GoogleRefused):
    """409: the resource exists already."""


class InvalidServiceAccountKey(ValueError):
    """The service account key is not a usable Google JSON key; the message says why."""


_REQUIRED_KEY_FIELDS = ("client_email", "private_key", "private_key_id")


@dataclass(frozen=True)
class ServiceAccountKey:
    """The fields Perch uses from a service account's JSON key file."""

    client_email: str
    private_key_id: str
    private_key: str = field(repr=False)  # PEM
    client_id: str | None = None
    project_id: str | None = None

    @classmethod
    def parse(cls, value: str | Mapping[str, Any]) -> ServiceAccountKey:
        info = _key_mapping(value)
        if info.get("type", "service_account") != "service_account":
            raise InvalidServiceAccountKey("type must be service_account")
        for name in _REQUIRED_KEY_FIELDS:
            if not isinstance(info.get(name), str) or not info[name].strip():
                raise InvalidServiceAccountKey(f"{name} is missing")
        _check_private_key(info["private_key"])
        return cls(
            client_email=info["client_email"].strip(),
            private_key_id=info["private_key_id"].strip(),
            private_key=info["private_key"],
            client_id=_optional_str(info.get("client_id")),
            project_id=_optional_str(info.get("project_id")),
        )

    def as_json(self) -> str:
        """The fields Perch keeps, as JSON (to store encrypted)."""
        fields = {
            "type": "service_account",
            "client_email": self.client_email,
            "private_key_id": self.private_key_id,
            "private_key": self.private_key,
            "client_id": self.client_id,
            "project_id": self.project_id,
        }
        return json.dumps(fields)


def _key_mapping(value: str | Mapping[str, Any]) -> Mapping[str, Any]:
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError as e:
            raise InvalidServiceAccountKey("must be the JSON key file's content") from e
    if not isinstance(value, Mapping):
        raise InvalidServiceAccountKey("must be the JSON key file's content")
    return value


def _check_private_key(pem: str) -> None:
    try:
        key = load_pem_private_key(pem.encode(), password=None)
    except (ValueError, TypeError) as e:
        raise InvalidServiceAccountKey("private_key is not a PEM private key") from e
    if not isinstance(key, rsa.RSAPrivateKey):
        raise InvalidServiceAccountKey("private_key must be an RSA key")


def _optional_str(value: object) -> str | None:
    return str(value) if value not in (None, "") else None


@dataclass(frozen=True)
class DelegatedCredential:
    """A service account acting as ``subject`` (domain-wide delegation) with ``scopes``."""

    key: ServiceAccountKey
    subject: str
    scopes: tuple[str, ...] = DIRECTORY_SCOPES

    @property
    def cache_key(self) -> str:
        parts = (self.key.client_email, self.key.private_key_id, self.key.private_key)
        material = "\0".join((*parts, self.subject.lower(), *self.scopes))
        return hashlib.sha256(material.encode()).hexdigest()

    def assertion(self, audience: str, now: float) -> str:
        issued = int(now)
        claims = {
            "iss": self.key.client_email,
            "sub": self.subject,
            "scope": " ".join(self.scopes),
            "aud": audience,
            "iat": issued,
            "exp": issued + TOKEN_LIFETIME,
        }
        headers = {"kid": self.key.private_key_id}
        return jwt.encode(claims, self.key.private_key, algorithm="RS256", headers=headers)


@dataclass(frozen=True)
class AccessToken:
    value: str = field(repr=False)
    expires_in: float


@dataclass(frozen=True)
class DirectoryDomain:
    name: str
    verified: bool
    is_primary: bool


@dataclass(frozen=True)
class DirectoryUser:
    id: str
    primary_email: str
    external_ids: tuple[tuple[str, str], ...]  # (customType or type, value)

    @classmethod
    def from_google(cls, data: dict[str, Any]) -> DirectoryUser:
        ids = data.get("externalIds") or []
        pairs = tuple(
            (str(i.get("customType") or i.get("type") or ""), str(i.get("value") or ""))
            for i in ids
            if isinstance(i, dict)
        )
        return cls(str(data["id"]), str(data.get("primaryEmail") or ""), pairs)


@dataclass(frozen=True)
class NewUser:
    primary_email: str
    given_name: str
    family_name: str
    password: str = field(repr=False)
    external_id: tuple[str, str] | None = None  # (customType, value): who created the user

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "primaryEmail": self.primary_email,
            "name": {"givenName": self.given_name, "familyName": self.family_name},
            "password": self.password,
            "changePasswordAtNextLogin": False,
        }
        if self.external_id is not None:
            kind, value = self.external_id
            body["externalIds"] = [{"type": "custom", "customType": kind, "value": value}]
        return body


@dataclass(frozen=True)
class Photo:
    data: bytes = field(repr=False)
    mime_type: str  # image/png or image/jpeg
    width: int
    height: int

    def body(self) -> dict[str, Any]:
        return {
            "photoData": base64.urlsafe_b64encode(self.data).decode(),  # web-safe Base64
            "mimeType": self.mime_type,
            "width": self.width,
            "height": self.height,
        }


TokenCache = httpkit.TokenCache  # per process: TokenCache[AccessToken]()


class GoogleDirectory:
    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        token_url: str,
        directory_url: str,
        tokens: TokenCache,
        max_retries: int = 4,
        backoff: float = 0.5,
        max_retry_after: float = 30.0,
    ) -> None:
        self._http = http
        self._token_url = token_url
        self._directory_url = directory_url.rstrip("/")
        self._tokens = tokens
        self._max_retries = max_retries
        self._backoff = backoff
        self._max_retry_after = max_retry_after

    # -- tokens ------------------------------------------------------------------------------

    async def token(self, credential: DelegatedCredential) -> AccessToken:
        """A token for ``credential``, from the cache while it is fresh."""
        return await self._tokens.get(credential.cache_key, lambda: self.request_token(credential))

    async def request_token(self, credential: DelegatedCredential) -> AccessToken:
        """A new token from the token URL (never taken from the cache; the cache is updated)."""
        form = {
            "grant_type": JWT_BEARER,
            "assertion": credential.assertion(self._token_url, time.time()),
        }
        response = await self._send(lambda: self._http.post(self._token_url, data=form))
        if response.status_code >= 400:
            raise _token_refusal(response)
        token = _access_token(response)
        self._tokens.put(credential.cache_key, token)
        log.info(
            "google.token.acquired", client=credential.key.client_email, subject=credential.subject
        )
        return token

    # -- Directory ---------------------------------------------------------------------------

    async def get_domain(self, credential: DelegatedCredential, name: str) -> DirectoryDomain:
        """``GET /customer/my_customer/domains/{name}``."""
        data = await self._directory(
            "GET", credential, f"/customer/my_customer/domains/{_segment(name)}"
        )
        return DirectoryDomain(
            name=str(data.get("domainName") or name).lower(),
            verified=bool(data.get("verified")),
            is_primary=bool(data.get("isPrimary")),
        )

    async def insert_user(self, credential: DelegatedCredential, user: NewUser) -> DirectoryUser:
        """``POST /users``."""
        data = await self._directory("POST", credential, "/users", json=user.body())
        return DirectoryUser.from_google(data)

    async def get_user(self, credential: DelegatedCredential, key: str) -> DirectoryUser:
        """``GET /users/{id or primary email}``."""
        data = await self._directory("GET", credential, f"/users/{_segment(key)}")
        return DirectoryUser.from_google(data)

    async def delete_user(self, credential: DelegatedCredential, key: str) -> None:
        """``DELETE /users/{id or primary email}``."""
        await self._directory("DELETE", credential, f"/users/{_segment(key)}")

    async def update_photo(self, credential: DelegatedCredential, key: str, photo: Photo) -> None:
        """``PUT /users/{key}/photos/thumbnail`` (photoData in web-safe Base64)."""
        path = f"/users/{_segment(key)}/photos/thumbnail"
        await self._directory("PUT", credential, path, json=photo.body())

    async def _directory(
        self, method: str, credential: DelegatedCredential, path: str, *, json: Any = None
    ) -> dict[str, Any]:
        """One Directory call: with a token, retried, handled; a 401 once with a new token."""
        for fresh_token in (False, True):
            token = await self.token(credential)
            send = functools.partial(
                self._http.request,
                method,
                f"{self._directory_url}{path}",
                json=json,
                headers={"Authorization": f"Bearer {token.value}"},
            )
            response = await self._send(send)
            if response.status_code != 401 or fresh_token:
                break
            self._tokens.invalidate(credential.cache_key)
        return _handle(response)

    # -- retries -----------------------------------------------------------------------------

    async def _send(self, request: Callable[[], Awaitable[httpx.Response]]) -> httpx.Response:
        """``request()`` until it is neither a network error, a 429 nor a 5xx, or retries
        run out (``GoogleUnavailable``)."""
        for attempt in range(self._max_retries + 1):
            try:
                response = await request()
            except httpx.TransportError as e:
                if attempt == self._max_retries:
                    raise GoogleUnavailable(f"Google unreachable: {e!r}") from e
                await self._wait(attempt, None, type(e).__name__)
                continue
            if response.status_code != 429 and response.status_code < 500:
                return response
            wait = httpkit.retry_after(response.headers.get("retry-after"))
            if attempt == self._max_retries or (wait or 0) > self._max_retry_after:
                raise GoogleUnavailable(f"Google answered {response.status_code}")
            await self._wait(attempt, wait, str(response.status_code))
        raise AssertionError("unreachable")  # pragma: no cover

    async def _wait(self, attempt: int, retry_after: float | None, reason: str) -> None:
        delay = retry_after if retry_after is not None else self._backoff * 2**attempt
        delay += 0 if retry_after is not None else random.uniform(0, self._backoff / 2)
        log.info("google.retry", attempt=attempt + 1, delay=round(delay, 3), reason=reason)
        await asyncio.sleep(delay)


def _segment(value: str) -> str:
    return quote(value, safe="@")


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        data = response.json()
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _handle(response: httpx.Response) -> dict[str, Any]:
    """The shared Directory response handler: a dict on 2xx, the right refusal otherwise."""
    data = _json(response)
    if response.is_success:
        return data
    error = data.get("error")
    error = error if isinstance(error, dict) else {}
    errors = error.get("errors") if isinstance(error.get("errors"), list) else []
    first = errors[0] if errors and isinstance(errors[0], dict) else {}
    reason = str(first.get("reason") or error.get("status") or "unknown")
    message = str(error.get("message") or f"HTTP {response.status_code}")
    kinds = {401: DirectoryForbidden, 403: DirectoryForbidden, 404: DirectoryNotFound}
    kind = kinds.get(response.status_code) or (
        DirectoryConflict if response.status_code == 409 else GoogleRefused
    )
    raise kind(response.status_code, reason, message)


def _token_refusal(response: httpx.Response) -> TokenRefused:
    data = _json(response)
    description = str(data.get("error_description") or f"HTTP {response.status_code}")
    return TokenRefused(response.status_code, str(data.get("error") or "unknown"), description)


def _access_token(response: httpx.Response) -> AccessToken:
    data = _json(response)
    value, expires_in = data.get("access_token"), data.get("expires_in", TOKEN_LIFETIME)
    if not isinstance(value, str) or not value:
        raise TokenRefused(response.status_code, "invalid_response", "no access_token in reply")
    try:
        seconds = float(expires_in)
    except (TypeError, ValueError) as e:
        raise TokenRefused(response.status_code, "invalid_response", "bad expires_in") from e
    return AccessToken(value, seconds)
