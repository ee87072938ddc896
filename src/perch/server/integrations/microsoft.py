"""Microsoft identity platform + Graph, app-only (the client credentials grant).

    graph = MicrosoftGraph(runtime.http, login_url=..., graph_url=..., max_retries=4,
                           shared=GraphShared())          # shared: per process (runtime.state)
    app = AppCredential(tenant_id, client_id, client_secret)
    token = await graph.token(app)                  # cached until shortly before it expires
    user = await graph.get_user(app, "jim@contoso.com")
    users = await graph.find_users_by_address(app, "jh@contoso.com")
    inbox = await graph.get_inbox(app, user.id)

One method per remote call, all through ``_send`` (retries) and ``_handle`` (errors):

* 429, 5xx and network errors are retried up to ``max_retries`` times, waiting for
  ``Retry-After`` when Microsoft sends one (an exponential backoff otherwise); a wait longer
  than ``max_retry_after`` gives up at once.
* A 401 from Graph is retried once with a fresh token (the cached one may have been revoked).
* At most ``MAILBOX_CONCURRENCY`` (4) requests at once per mailbox, Graph's own limit, and
  ``GraphShared.overall`` requests at once in the process.

Exceptions::

    MicrosoftError
    ├── MicrosoftUnavailable     transient: network, timeout, 429, 5xx (retries exhausted)
    └── MicrosoftRefused         permanent: Microsoft answered no (.status, .code, .message)
        ├── TokenRefused         the identity platform refused the credential (AADSTS...)
        ├── GraphForbidden       403: the app lacks a permission or a policy keeps it out
        └── GraphNotFound        404: no such user, or no mailbox (code tells which)

Adding a call (list messages, reply, mark read): a method that builds the path and calls
``_graph("GET" | "POST" | "PATCH", app, path, mailbox=user, ...)``, plus a typed result.
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import functools
import hashlib
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import httpx
import jwt
import structlog

log = structlog.get_logger(__name__)

GRAPH_SCOPE = "https://graph.microsoft.com/.default"
MAILBOX_CONCURRENCY = 4
USER_FIELDS = "id,displayName,mail,userPrincipalName,proxyAddresses"


class MicrosoftError(Exception):
    """Base of everything the Microsoft adapter raises."""


class MicrosoftUnavailable(MicrosoftError):
    """Transient: Microsoft could not be reached or kept answering 429/5xx."""


class MicrosoftRefused(MicrosoftError):
    """Permanent: Microsoft answered and refused; ``code`` is its error code."""

    def __init__(self, status: int, code: str, message: str) -> None:
        self.status, self.code, self.message = status, code, message
        super().__init__(f"{status} {code}: {message}")


class TokenRefused(MicrosoftRefused):
    """The identity platform refused the credential (``code`` is e.g. ``invalid_client``)."""


class GraphForbidden(MicrosoftRefused):
    """403: e.g. ``Authorization_RequestDenied`` or ``ErrorAccessDenied``."""


class GraphNotFound(MicrosoftRefused):
    """404: e.g. ``Request_ResourceNotFound`` or ``MailboxNotEnabledForRESTAPI``."""


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


def granted_roles(access_token: str) -> frozenset[str] | None:
    """The ``roles`` claim of an app-only token; None when the token is not a readable JWT."""
    try:
        claims = jwt.decode(access_token, options={"verify_signature": False})
    except jwt.PyJWTError:
        return None
    roles = claims.get("roles", [])
    return frozenset(str(r) for r in roles) if isinstance(roles, list) else None


class TokenCache:
    """Tokens per credential, reused until ``margin`` before they expire; one fetch at a time
    per credential (a batch of 200 mailboxes asks the identity platform once)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._tokens: dict[str, tuple[AccessToken, float]] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    async def get(self, key: str, fetch: Callable[[], Awaitable[AccessToken]]) -> AccessToken:
        cached = self._fresh(key)
        if cached is not None:
            return cached
        async with self._locks.setdefault(key, asyncio.Lock()):
            cached = self._fresh(key)
            if cached is None:
                cached = await fetch()
                margin = min(300.0, cached.expires_in / 2)
                self._tokens[key] = (cached, self._clock() + cached.expires_in - margin)
            return cached

    def _fresh(self, key: str) -> AccessToken | None:
        found = self._tokens.get(key)
        return found[0] if found is not None and self._clock() < found[1] else None

    def invalidate(self, key: str) -> None:
        self._tokens.pop(key, None)


class MailboxLimits:
    """At most ``per_mailbox`` requests at once per mailbox and ``overall`` in all."""

    def __init__(self, per_mailbox: int = MAILBOX_CONCURRENCY, overall: int = 64) -> None:
        self.per_mailbox = per_mailbox
        self._overall = asyncio.Semaphore(overall)
        self._mailboxes: dict[str, tuple[asyncio.Semaphore, int]] = {}

    @contextlib.asynccontextmanager
    async def slot(self, mailbox: str | None) -> AsyncIterator[None]:
        if mailbox is None:
            async with self._overall:
                yield
            return
        semaphore = self._enter(mailbox)
        try:
            async with semaphore, self._overall:
                yield
        finally:
            self._leave(mailbox)

    def _enter(self, mailbox: str) -> asyncio.Semaphore:
        semaphore, users = self._mailboxes.get(mailbox, (None, 0))
        semaphore = semaphore or asyncio.Semaphore(self.per_mailbox)
        self._mailboxes[mailbox] = (semaphore, users + 1)
        return semaphore

    def _leave(self, mailbox: str) -> None:
        semaphore, users = self._mailboxes[mailbox]
        if users <= 1:
            del self._mailboxes[mailbox]
        else:
            self._mailboxes[mailbox] = (semaphore, users - 1)


@dataclass
class GraphShared:
    """What every MicrosoftGraph of a process shares (keep one in ``runtime.state``)."""

    tokens: TokenCache = field(default_factory=TokenCache)
    limits: MailboxLimits = field(default_factory=MailboxLimits)


class MicrosoftGraph:
    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        login_url: str,
        graph_url: str,
        shared: GraphShared,
        max_retries: int = 4,
        backoff: float = 0.5,
        max_retry_after: float = 30.0,
    ) -> None:
        self._http = http
        self._login_url = login_url.rstrip("/")
        self._graph_url = graph_url.rstrip("/")
        self._shared = shared
        self._max_retries = max_retries
        self._backoff = backoff
        self._max_retry_after = max_retry_after

    # -- identity platform -------------------------------------------------------------

    async def token(self, app: AppCredential) -> AccessToken:
        """A Graph token for ``app``, from the cache while it is fresh."""
        return await self._shared.tokens.get(app.cache_key, lambda: self.request_token(app))

    async def request_token(self, app: AppCredential) -> AccessToken:
        """A new token from ``{login}/{tenant}/oauth2/v2.0/token`` (never cached)."""
        url = f"{self._login_url}/{quote(app.tenant_id, safe='')}/oauth2/v2.0/token"
        form = {
            "grant_type": "client_credentials",
            "client_id": app.client_id,
            "client_secret": app.client_secret,
            "scope": GRAPH_SCOPE,
        }
        async with self._shared.limits.slot(None):
            response = await self._send(lambda: self._http.post(url, data=form))
        if response.status_code >= 400:
            raise _token_refusal(response)
        log.info("microsoft.token.acquired", tenant=app.tenant_id, client_id=app.client_id)
        return _access_token(response)

    # -- Graph -------------------------------------------------------------------------

    async def get_user(self, app: AppCredential, user: str) -> GraphUser:
        """``GET /users/{id or userPrincipalName}``."""
        path, params = f"/users/{_segment(user)}", {"$select": USER_FIELDS}
        data = await self._graph("GET", app, path, params=params, mailbox=user)
        return GraphUser.from_graph(data)

    async def find_users_by_address(self, app: AppCredential, address: str) -> list[GraphUser]:
        """Users whose mail, user principal name or any proxy address is ``address``."""
        literal = address.replace("'", "''")
        query = (
            f"mail eq '{literal}' or userPrincipalName eq '{literal}' or "
            f"proxyAddresses/any(x:x eq 'smtp:{literal}')"
        )
        params = {"$filter": query, "$select": USER_FIELDS}
        data = await self._graph("GET", app, "/users", params=params)
        return [GraphUser.from_graph(item) for item in data.get("value", [])]

    async def get_inbox(self, app: AppCredential, user: str) -> MailFolder:
        """``GET /users/{user}/mailFolders/inbox``: the mailbox exists and the app may read it."""
        path, params = f"/users/{_segment(user)}/mailFolders/inbox", {"$select": "id,displayName"}
        data = await self._graph("GET", app, path, params=params, mailbox=user)
        return MailFolder(id=str(data["id"]), display_name=data.get("displayName"))

    async def _graph(
        self,
        method: str,
        app: AppCredential,
        path: str,
        *,
        params: dict[str, str] | None = None,
        json: Any = None,
        mailbox: str | None = None,
    ) -> dict[str, Any]:
        """One Graph call: within the mailbox's limit, with a token, retried, handled."""
        key = f"{app.tenant_id}/{mailbox}".lower() if mailbox is not None else None
        async with self._shared.limits.slot(key):
            for fresh_token in (False, True):
                token = await self.token(app)
                send = functools.partial(
                    self._http.request,
                    method,
                    f"{self._graph_url}{path}",
                    params=params,
                    json=json,
                    headers={"Authorization": f"Bearer {token.value}"},
                )
                response = await self._send(send)
                if response.status_code != 401 or fresh_token:
                    break
                self._shared.tokens.invalidate(app.cache_key)
        return _handle(response)

    # -- retries ---------------------------------------------------------------------------

    async def _send(self, request: Callable[[], Awaitable[httpx.Response]]) -> httpx.Response:
        """``request()`` until it is neither a network error, a 429 nor a 5xx, or retries
        run out (``MicrosoftUnavailable``)."""
        for attempt in range(self._max_retries + 1):
            try:
                response = await request()
            except httpx.TransportError as e:
                if attempt == self._max_retries:
                    raise MicrosoftUnavailable(f"Microsoft unreachable: {e!r}") from e
                await self._wait(attempt, None, str(e))
                continue
            if response.status_code != 429 and response.status_code < 500:
                return response
            wait = _retry_after(response)
            if attempt == self._max_retries or (wait or 0) > self._max_retry_after:
                raise MicrosoftUnavailable(f"Microsoft answered {response.status_code}")
            await self._wait(attempt, wait, str(response.status_code))
        raise AssertionError("unreachable")  # pragma: no cover

    async def _wait(self, attempt: int, retry_after: float | None, reason: str) -> None:
        delay = retry_after if retry_after is not None else self._backoff * 2**attempt
        delay += 0 if retry_after is not None else random.uniform(0, self._backoff / 2)
        log.info("microsoft.retry", attempt=attempt + 1, delay=round(delay, 3), reason=reason)
        await asyncio.sleep(delay)


def _segment(value: str) -> str:
    return quote(value, safe="@")


def _retry_after(response: httpx.Response) -> float | None:
    """``Retry-After`` as seconds (a number or an HTTP date); None when absent or unreadable."""
    value = response.headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        data = response.json()
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _handle(response: httpx.Response) -> dict[str, Any]:
    """The shared Graph response handler: a dict on 2xx, the right refusal otherwise."""
    data = _json(response)
    if response.is_success:
        return data
    error = data.get("error")
    error = error if isinstance(error, dict) else {}
    code, message = str(error.get("code") or "unknown"), str(error.get("message") or "")
    kind = {403: GraphForbidden, 404: GraphNotFound}.get(response.status_code, MicrosoftRefused)
    raise kind(response.status_code, code, message)


def _token_refusal(response: httpx.Response) -> TokenRefused:
    data = _json(response)
    description = str(data.get("error_description") or "").splitlines()
    message = description[0].strip() if description else f"HTTP {response.status_code}"
    return TokenRefused(response.status_code, str(data.get("error") or "unknown"), message)


def _access_token(response: httpx.Response) -> AccessToken:
    data = _json(response)
    value, expires_in = data.get("access_token"), data.get("expires_in")
    if not isinstance(value, str) or not isinstance(expires_in, int | float | str):
        raise TokenRefused(response.status_code, "invalid_response", "no access_token in reply")
    try:
        seconds = float(expires_in)
    except ValueError as e:
        raise TokenRefused(response.status_code, "invalid_response", "bad expires_in") from e
    return AccessToken(value, seconds, granted_roles(value))
