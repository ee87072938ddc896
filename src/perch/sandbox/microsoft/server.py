"""``SandboxMicrosoft``: the identity platform's token endpoint and the Graph resources Perch
uses, as one Starlette app served over HTTPS (``HttpsServer``) with the sandbox CA."""

from __future__ import annotations

import asyncio
import secrets
import threading
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Match, Route

from perch.sandbox.ca import SandboxCA
from perch.sandbox.https import HttpsServer
from perch.sandbox.microsoft import batch, mail
from perch.sandbox.microsoft import responses as r
from perch.sandbox.microsoft.directory import (
    DEFAULT_ROLES,
    DIRECTORY_ROLES,
    GRAPH_SCOPE,
    MAIL_READ_ROLES,
    Caller,
    FakeApp,
    FakeUser,
    Tokens,
    user_filter,
)

MAILBOX_CONCURRENCY = 4
BATCH = "/v1.0/$batch"
BATCH_LIMIT = 20
GraphHandler = Callable[[Request, Caller], Awaitable[Response]]


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    at: float = field(default_factory=time.monotonic)


class SandboxMicrosoft:
    def __init__(self, ca: SandboxCA | None = None, host: str = "127.0.0.1") -> None:
        self.ca = ca or SandboxCA()
        self.apps: list[FakeApp] = []
        self.users: list[FakeUser] = []
        self.requests: list[RecordedRequest] = []
        self.latency = 0.0  # seconds before every answer
        self.outage = False  # every Graph request answers 503
        self.outage_retry_after: float | None = None
        self.tokens = Tokens()
        self.peak_concurrency: Counter[str] = Counter()  # per user id, mailbox resources
        self._in_flight: Counter[str] = Counter()
        self._faults: list[r.Fault] = []
        self._failing_users: dict[str, r.Fault] = {}
        self._lock = threading.Lock()
        self._by_key: dict[str, FakeUser] = {}
        self._by_address: dict[str, FakeUser] = {}
        self._indexed = 0
        self.mail = mail.Mailstore()
        self.app = Starlette(routes=self._routes())
        self._server = HttpsServer(self.app, self.ca, host=host)

    def _routes(self) -> list[Route]:
        """One route per resource; Graph ones go through ``_graph`` (``mailbox=True`` for
        resources inside a mailbox, which count towards its concurrency limit)."""
        return [
            Route("/{tenant}/oauth2/v2.0/token", self._token, methods=["POST"]),
            Route("/v1.0/$batch", self._batch, methods=["POST"]),
            Route("/v1.0/users", self._graph(self._list_users), methods=["GET"]),
            Route("/v1.0/users/{user}", self._graph(self._get_user), methods=["GET"]),
            Route(
                "/v1.0/users/{user}/mailFolders/inbox",
                self._graph(self._get_inbox, mailbox=True),
                methods=["GET"],
            ),
            *self._mail_routes(),
        ]

    def _mail_routes(self) -> list[Route]:
        base = "/v1.0/users/{user}"
        mailbox = {"mailbox": True}
        return [
            Route(
                f"{base}/mailFolders/inbox/messages",
                self._graph(self._inbox_messages, **mailbox),
                methods=["GET"],
            ),
            Route(
                f"{base}/messages/{{id}}/createReply",
                self._graph(self._create_reply, **mailbox),
                methods=["POST"],
            ),
            Route(
                f"{base}/messages/{{id}}",
                self._graph(self._patch_message, **mailbox),
                methods=["PATCH"],
            ),
            Route(
                f"{base}/messages/{{id}}/send", self._graph(self._send, **mailbox), methods=["POST"]
            ),
        ]

    # -- mail (see perch.sandbox.microsoft.mail) -------------------------------------------

    def deliver(
        self, user: str, *, sender: str, subject: str, html: str = "", **fields: Any
    ) -> dict[str, Any]:
        """Put a message in ``user``'s inbox (by UPN or id); returns its Graph resource."""
        found = self._find(user, None, by_address=True)
        if found is None:
            raise KeyError(user)
        message = mail.new_message(
            sender=sender,
            to=found.mail or found.user_principal_name,
            subject=subject,
            html=html,
            **fields,
        )
        return self.mail.add(found.id, "inbox", message)

    def sent(self, user: str) -> list[dict[str, Any]]:
        found = self._find(user, None, by_address=True)
        return self.mail.in_folder(found.id, "sentitems") if found else []

    def message(self, message_id: str) -> dict[str, Any] | None:
        return self.mail.messages.get(message_id)

    def _mail_user(self, request: Request, caller: Caller, roles: set[str]) -> FakeUser | Response:
        named = request.path_params["user"]
        user = self._find(named, caller)
        if user is None:
            return r.graph_error("invalid_user", name=named)
        if not caller.roles & roles or user.access_denied:
            return r.graph_error("mail")
        return user if user.has_mailbox else r.graph_error("no_mailbox")

    async def _inbox_messages(self, request: Request, caller: Caller) -> Response:
        user = self._mail_user(request, caller, mail.READ_ROLES)
        return user if isinstance(user, Response) else mail.list_inbox(self.mail, request, user.id)

    async def _create_reply(self, request: Request, caller: Caller) -> Response:
        user = self._mail_user(request, caller, mail.WRITE_ROLES)
        if isinstance(user, Response):
            return user
        address = user.mail or user.user_principal_name
        return mail.create_reply(self.mail, user.id, address, request.path_params["id"])

    async def _patch_message(self, request: Request, caller: Caller) -> Response:
        user = self._mail_user(request, caller, mail.WRITE_ROLES)
        if isinstance(user, Response):
            return user
        return mail.patch_message(
            self.mail, user.id, request.path_params["id"], await request.json()
        )

    async def _send(self, request: Request, caller: Caller) -> Response:
        user = self._mail_user(request, caller, mail.SEND_ROLES)
        return (
            user
            if isinstance(user, Response)
            else mail.send_draft(self.mail, user.id, request.path_params["id"])
        )

    # -- configuration -----------------------------------------------------------------

    def add_tenant(
        self,
        tenant: str,
        client_id: str,
        secret: str,
        *,
        roles: tuple[str, ...] | list[str] = DEFAULT_ROLES,
        secret_expired: bool = False,
    ) -> FakeApp:
        """Register an app (client id + secret) in a tenant; the tenant exists from then on."""
        app = FakeApp(tenant, client_id, secret, tuple(roles), secret_expired)
        self.apps.append(app)
        return app

    def add_user(
        self,
        upn: str,
        *,
        mail: str | None = "",
        proxy_addresses: list[str] | tuple[str, ...] = (),
        has_mailbox: bool = True,
        display_name: str | None = None,
        access_denied: bool = False,
        tenant: str | None = None,
        id: str | None = None,
    ) -> FakeUser:
        """A directory user. ``mail`` defaults to the UPN (``None``: no mail attribute);
        ``proxy_addresses`` are secondary addresses (the primary ``SMTP:`` one is added)."""
        primary = upn if mail == "" else mail
        proxies = [f"SMTP:{primary}"] if primary else []
        proxies += [a if ":" in a else f"smtp:{a}" for a in proxy_addresses]
        user = FakeUser(id or str(uuid.uuid4()), upn, primary, display_name, proxies)
        user.has_mailbox, user.access_denied, user.tenant = has_mailbox, access_denied, tenant
        self.users.append(user)
        return user

    def fail_next(
        self,
        count: int,
        status: int = 429,
        *,
        retry_after: float | None = None,
        where: str = "graph",
    ) -> None:
        """The next ``count`` requests to ``where`` (``graph``, ``token`` or ``any``) fail."""
        with self._lock:
            self._faults.extend(r.Fault(status, retry_after, where) for _ in range(count))

    def fail_user(self, user: str, status: int = 503, *, retry_after: float | None = None) -> None:
        """Every Graph request naming this user (by id, UPN or any address) fails."""
        self._failing_users[user.lower()] = r.Fault(status, retry_after)

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()
        self._failing_users.clear()
        self.outage = False
        self.latency = 0.0

    def graph_requests(self) -> list[RecordedRequest]:
        """Graph resource requests, alone or inside a ``$batch`` (not the envelopes)."""
        return [q for q in self.requests if q.path.startswith("/v1.0/") and q.path != BATCH]

    def batch_requests(self) -> list[RecordedRequest]:
        """The ``$batch`` envelopes."""
        return [q for q in self.requests if q.path == BATCH]

    def token_requests(self) -> list[RecordedRequest]:
        return [q for q in self.requests if q.path.endswith("/oauth2/v2.0/token")]

    # -- serving -------------------------------------------------------------------------

    @property
    def url(self) -> str:
        """The login base (``PERCH_MICROSOFT_LOGIN_URL``)."""
        return self._server.url

    @property
    def graph_url(self) -> str:
        """The Graph base (``PERCH_MICROSOFT_GRAPH_URL``)."""
        return f"{self.url}/v1.0"

    def start(self) -> SandboxMicrosoft:
        self._server.start()
        return self

    def stop(self) -> None:
        self._server.stop()

    def __enter__(self) -> SandboxMicrosoft:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    async def __aenter__(self) -> SandboxMicrosoft:
        await asyncio.to_thread(self.start)
        return self

    async def __aexit__(self, *exc: object) -> None:
        await asyncio.to_thread(self.stop)

    # -- token endpoint ------------------------------------------------------------------

    async def _token(self, request: Request) -> Response:
        self._record(request)
        await self._delay()
        fault = self._take_fault("token")
        if fault is not None:
            return r.failure(fault, token=True)
        form = {k: str(v) for k, v in (await request.form()).items()}
        app, refusal = self._check_client(request.path_params["tenant"], form)
        if app is None:
            return refusal
        return JSONResponse(self.tokens.issue(app))

    def _check_client(self, tenant: str, form: dict[str, str]) -> tuple[FakeApp | None, Response]:
        client_id = form.get("client_id", "")
        app = next((a for a in self.apps if (a.tenant, a.client_id) == (tenant, client_id)), None)
        problem = (
            "grant" if form.get("grant_type") != "client_credentials"
            else "tenant" if not any(a.tenant == tenant for a in self.apps)
            else "app" if app is None
            else "secret" if not secrets.compare_digest(form.get("client_secret", ""), app.secret)
            else "expired" if app.secret_expired
            else "scope" if form.get("scope") != GRAPH_SCOPE
            else None
        )  # fmt: skip
        if problem is None:
            return app, Response()
        facts = {"tenant": tenant, "client_id": client_id, "scope": form.get("scope")}
        return None, r.aad_error(problem, facts)

    # -- Graph ---------------------------------------------------------------------------

    def _graph(self, handler: GraphHandler, *, mailbox: bool = False) -> Callable[..., object]:
        """Log, then (inside the mailbox's concurrency count) wait, inject faults, check the
        bearer token and answer."""

        async def endpoint(request: Request) -> Response:
            self._record(request)
            named = request.path_params.get("user")
            user = self._find(named, None) if named and mailbox else None
            async with self._counted(user.id if user else None) as over_limit:
                await self._delay()
                if over_limit:
                    return r.graph_error("concurrency", retry_after=1)
                refusal = self._injected(named)
                if refusal is not None:
                    return refusal
                caller = self.tokens.caller(request.headers.get("authorization", ""))
                if caller is None:
                    return r.graph_error("token")
                return await handler(request, caller)

        return endpoint

    async def _batch(self, request: Request) -> Response:
        """JSON batching: up to 20 requests, run at once through their own routes (each
        logged, delayed, faulted and counted like a request of its own)."""
        self._record(request)
        if self.outage:
            return r.failure(r.Fault(503, self.outage_retry_after))
        authorization = request.headers.get("authorization", "")
        if self.tokens.caller(authorization) is None:
            return r.graph_error("token")
        items = await batch.batch_items(request)
        if items is None or len(items) > BATCH_LIMIT:
            message = f"A batch holds 1 to {BATCH_LIMIT} requests with id, method and url."
            return r.json_error(400, "BadRequest", message)
        answers = await asyncio.gather(*(self._inner(item, authorization) for item in items))
        return JSONResponse({"responses": list(answers)})

    async def _inner(self, item: dict[str, Any], authorization: str) -> dict[str, Any]:
        scope, receive = batch.inner_scope(item, authorization)
        for route in self.app.routes:
            match, child = route.matches(scope)
            if match == Match.FULL and isinstance(route, Route):
                scope.update(child)
                response: Response = await route.endpoint(Request(scope, receive))
                return batch.inner_answer(str(item["id"]), response)
        answer = r.json_error(400, "BadRequest", f"Invalid request URL {item['url']!r}")
        return batch.inner_answer(str(item["id"]), answer)

    def _injected(self, named: str | None) -> Response | None:
        if self.outage:
            return r.failure(r.Fault(503, self.outage_retry_after))
        user = self._find(named, None, by_address=True) if named else None
        names = user.names() if user else {named.lower()} if named else set()
        failing = sorted(names & self._failing_users.keys())
        if failing:
            return r.failure(self._failing_users[failing[0]])
        fault = self._take_fault("graph")
        return r.failure(fault) if fault is not None else None

    def _counted(self, key: str | None) -> _InFlight:
        return _InFlight(self, key)

    async def _get_user(self, request: Request, caller: Caller) -> Response:
        if not caller.roles & DIRECTORY_ROLES:
            return r.graph_error("directory")
        named = request.path_params["user"]
        user = self._find(named, caller)
        if user is None:
            return r.graph_error("no_user", name=named)
        return JSONResponse(r.selected(user.resource(), request, "users/$entity"))

    async def _list_users(self, request: Request, caller: Caller) -> Response:
        if not caller.roles & DIRECTORY_ROLES:
            return r.graph_error("directory")
        try:
            matches = user_filter(request.query_params.get("$filter", ""))
        except ValueError as e:
            return r.json_error(400, "Request_UnsupportedQuery", str(e))
        found = [u for u in self._directory(caller) if any(m(u) for m in matches)]
        body = [r.selected(u.resource(), request, None) for u in found]
        return JSONResponse({"@odata.context": f"{r.METADATA}#users", "value": body})

    async def _get_inbox(self, request: Request, caller: Caller) -> Response:
        named = request.path_params["user"]
        user = self._find(named, caller)
        if user is None:
            return r.graph_error("invalid_user", name=named)
        if not caller.roles & MAIL_READ_ROLES or user.access_denied:
            return r.graph_error("mail")
        if not user.has_mailbox:
            return r.graph_error("no_mailbox")
        folder = {
            "id": f"inbox-{user.id}",
            "displayName": "Inbox",
            "parentFolderId": f"root-{user.id}",
            "childFolderCount": 0,
            "unreadItemCount": 0,
            "totalItemCount": 0,
            "isHidden": False,
        }
        context = f"users('{user.id}')/mailFolders/$entity"
        return JSONResponse(r.selected(folder, request, context))

    # -- helpers -------------------------------------------------------------------------

    def _record(self, request: Request) -> None:
        headers = {k.lower(): v for k, v in request.headers.items()}
        query = dict(request.query_params)
        self.requests.append(RecordedRequest(request.method, request.url.path, query, headers))

    async def _delay(self) -> None:
        if self.latency > 0:
            await asyncio.sleep(self.latency)

    def _take_fault(self, where: str) -> r.Fault | None:
        with self._lock:
            for index, fault in enumerate(self._faults):
                if fault.where in (where, "any"):
                    return self._faults.pop(index)
        return None

    def _directory(self, caller: Caller | None) -> list[FakeUser]:
        if caller is None:
            return self.users
        return [u for u in self.users if u.tenant in (None, caller.tenant)]

    def _find(
        self, name: str, caller: Caller | None, *, by_address: bool = False
    ) -> FakeUser | None:
        """By id or UPN, as ``/users/{x}`` finds users; ``by_address``: by any address too.

        Names are indexed when the list of users has changed (a user's names are fixed once
        added), so a directory of thousands answers as fast as one of three."""
        if self._indexed != len(self.users):
            self._reindex()
        wanted = name.lower()
        user = self._by_key.get(wanted) or (self._by_address.get(wanted) if by_address else None)
        if user is None or (caller is not None and user.tenant not in (None, caller.tenant)):
            return None
        return user

    def _reindex(self) -> None:
        self._by_key, self._by_address = {}, {}
        for user in reversed(self.users):  # the first added wins
            self._by_key |= dict.fromkeys((user.id.lower(), user.user_principal_name.lower()), user)
            self._by_address |= dict.fromkeys(user.names(), user)
        self._indexed = len(self.users)


class _InFlight:
    """Counts a request against its mailbox while it runs; ``as`` gives "over the limit"."""

    def __init__(self, fake: SandboxMicrosoft, key: str | None) -> None:
        self.fake, self.key = fake, key

    async def __aenter__(self) -> bool:
        if self.key is None:
            return False
        with self.fake._lock:
            self.fake._in_flight[self.key] += 1
            now = self.fake._in_flight[self.key]
            self.fake.peak_concurrency[self.key] = max(self.fake.peak_concurrency[self.key], now)
        return now > MAILBOX_CONCURRENCY

    async def __aexit__(self, *exc: object) -> None:
        if self.key is not None:
            with self.fake._lock:
                self.fake._in_flight[self.key] -= 1
