"""A Google Workspace fake: the OAuth token endpoint and the Admin SDK Directory resources.

An ASGI app served over HTTPS with the sandbox CA (:class:`perch.sandbox.https.HttpsServer`):

    workspace = GoogleWorkspace()
    workspace.add_domain("piedpiper.com")
    workspace.add_admin("admin@piedpiper.com")
    account = workspace.add_service_account()          # domain-wide delegation granted
    with workspace.serve(ca) as server:
        workspace.token_url, workspace.directory_url   # for PERCH_GOOGLE_*_URL
        account.key_json()                               # the JSON key file Google issues

``POST /token`` implements the JWT-bearer grant (RFC 7523) as Google does: the assertion must be
an RS256 JWT signed with the service account's key (``kid`` = ``private_key_id``), ``aud`` the
token URL, at most an hour long, ``sub`` an administrator of this Workspace, and every scope
granted to the account's ``client_id`` by domain-wide delegation. Errors are OAuth-style JSON
(``{"error", "error_description"}``). Under ``/admin/directory/v1`` are the domains (list, get),
users (insert, get, delete) and user photos (update, get), each checking the bearer token and its
scope, with Google's error bodies (``{"error": {"code", "message", "errors", "status"}}``).

Outages are injected with :meth:`GoogleWorkspace.fail` (an HTTP status, optionally with
``Retry-After``, or ``status=DROP`` to cut the connection mid-response), and every request is in
:attr:`GoogleWorkspace.requests`. Nothing here imports ``perch.server``.
"""

from __future__ import annotations

import base64
import binascii
import io
import json
import secrets
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from PIL import Image
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from perch.sandbox.ca import SandboxCA
from perch.sandbox.https import HttpsServer

JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
USER_SCOPE = "https://www.googleapis.com/auth/admin.directory.user"
DOMAIN_SCOPES = (
    "https://www.googleapis.com/auth/admin.directory.domain",
    "https://www.googleapis.com/auth/admin.directory.domain.readonly",
)
DEFAULT_SCOPES = (USER_SCOPE, DOMAIN_SCOPES[1])
DIRECTORY_PREFIX = "/admin/directory/v1"
GOOGLE_TOKEN_URI = "https://oauth2.googleapis.com/token"
DROP = 0  # Outage status: close the connection in the middle of the response
_PHOTO_TYPES = {"JPEG": "JPEG", "IMAGE/JPEG": "JPEG", "PNG": "PNG", "IMAGE/PNG": "PNG"}
_UNAUTHORIZED_CLIENT = (
    "Client is unauthorized to retrieve access tokens using this method, "
    "or client not authorized for any of the scopes requested."
)


@dataclass
class ServiceAccount:
    """A service account and its private key, as in the JSON key file Google issues."""

    client_email: str
    client_id: str
    private_key_id: str
    private_key: rsa.RSAPrivateKey
    project_id: str = "perch-sandbox"

    def private_key_pem(self) -> str:
        return self.private_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode()

    def key_info(self, token_uri: str = GOOGLE_TOKEN_URI) -> dict[str, str]:
        """The JSON key file's content."""
        return {
            "type": "service_account",
            "project_id": self.project_id,
            "private_key_id": self.private_key_id,
            "private_key": self.private_key_pem(),
            "client_email": self.client_email,
            "client_id": self.client_id,
            "auth_uri": "https://accounts.google.com/o/oauth2/auth",
            "token_uri": token_uri,
        }

    def key_json(self, token_uri: str = GOOGLE_TOKEN_URI) -> str:
        return json.dumps(self.key_info(token_uri), indent=2)


def make_service_account(
    name: str = "perch", project_id: str = "perch-sandbox", key_size: int = 2048
) -> ServiceAccount:
    """A new service account with a fresh RSA key (not registered with any fake)."""
    return ServiceAccount(
        client_email=f"{name}@{project_id}.iam.gserviceaccount.com",
        client_id=str(secrets.randbelow(10**20) + 10**20),
        private_key_id=secrets.token_hex(20),
        private_key=rsa.generate_private_key(public_exponent=65537, key_size=key_size),
        project_id=project_id,
    )


@dataclass
class Outage:
    """Answer requests whose path contains ``path`` (and of ``method``, if given) with
    ``status`` (``DROP``: cut the connection), ``times`` times (``None``: until cleared).
    With ``after`` the request is carried out first and only its answer is lost."""

    status: int = 503
    retry_after: float | None = None
    times: int | None = None
    path: str = ""
    method: str = ""
    after: bool = False


@dataclass(frozen=True)
class LoggedRequest:
    method: str
    path: str
    status: int
    subject: str | None = None


@dataclass
class _Grant:
    subject: str
    scopes: frozenset[str]
    expires: float


class GoogleError(Exception):
    def __init__(self, code: int, message: str, reason: str = "invalid") -> None:
        super().__init__(message)
        self.code, self.message, self.reason = code, message, reason

    def response(self) -> JSONResponse:
        status = {400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED"}
        status |= {404: "NOT_FOUND", 409: "ALREADY_EXISTS"}
        error = {"domain": "global", "reason": self.reason, "message": self.message}
        body = {"code": self.code, "message": self.message, "errors": [error]}
        return JSONResponse(
            {"error": {**body, "status": status.get(self.code, "UNKNOWN")}}, self.code
        )


class _OAuthError(Exception):
    def __init__(self, error: str, description: str, status: int = 400) -> None:
        super().__init__(description)
        self.error, self.description, self.status = error, description, status


@dataclass
class GoogleWorkspace:
    """One Workspace customer: domains, users, photos, service accounts and their grants."""

    token_ttl: int = 3600
    domains: dict[str, bool] = field(default_factory=dict)  # name -> verified
    users: dict[str, dict[str, Any]] = field(default_factory=dict)  # lower-case email -> user
    photos: dict[str, dict[str, Any]] = field(default_factory=dict)  # user id -> photo
    passwords: dict[str, str] = field(default_factory=dict)  # user id -> password (never served)
    requests: list[LoggedRequest] = field(default_factory=list)
    outages: list[Outage] = field(default_factory=list)
    accounts: dict[str, ServiceAccount] = field(default_factory=dict)  # client_email -> account
    delegation: dict[str, set[str]] = field(default_factory=dict)  # client_id -> scopes
    tokens: dict[str, _Grant] = field(default_factory=dict)
    url: str = ""
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    # ----- setting the scene ---------------------------------------------------------------

    def add_domain(self, name: str, verified: bool = True) -> None:
        self.domains[name.lower()] = verified

    def add_admin(self, email: str) -> dict[str, Any]:
        return self.add_user(email, "Admin", "User", is_admin=True)

    def add_user(
        self, email: str, given: str, family: str, is_admin: bool = False
    ) -> dict[str, Any]:
        user = {
            "kind": "admin#directory#user",
            "id": str(secrets.randbelow(10**20) + 10**20),
            "primaryEmail": email.lower(),
            "name": {"givenName": given, "familyName": family, "fullName": f"{given} {family}"},
            "isAdmin": is_admin,
            "suspended": False,
            "changePasswordAtNextLogin": False,
            "creationTime": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z"),
            "customerId": "C0sandbox",
            "orgUnitPath": "/",
        }
        with self._lock:
            self.users[email.lower()] = user
        return user

    def add_service_account(
        self, scopes: tuple[str, ...] | None = DEFAULT_SCOPES, account: ServiceAccount | None = None
    ) -> ServiceAccount:
        """Register a service account; ``scopes`` are granted by domain-wide delegation."""
        account = account or make_service_account()
        self.accounts[account.client_email] = account
        self.delegation[account.client_id] = set(scopes or ())
        return account

    def fail(
        self,
        status: int = 503,
        *,
        retry_after: float | None = None,
        times: int | None = None,
        path: str = "",
        method: str = "",
        after: bool = False,
    ) -> Outage:
        outage = Outage(status, retry_after, times, path, method.upper(), after)
        self.outages.append(outage)
        return outage

    def clear_outages(self) -> None:
        self.outages.clear()

    def revoke_tokens(self) -> None:
        """Every access token issued so far is refused from now on (401)."""
        self.tokens.clear()

    def user(self, email: str) -> dict[str, Any] | None:
        return self.users.get(email.lower())

    def photo_of(self, email: str) -> dict[str, Any] | None:
        user = self.user(email)
        return self.photos.get(user["id"]) if user else None

    def served(self, method: str, path_part: str) -> list[LoggedRequest]:
        return [r for r in self.requests if r.method == method and path_part in r.path]

    # ----- serving -------------------------------------------------------------------------

    @property
    def token_url(self) -> str:
        return f"{self.url}/token"

    @property
    def directory_url(self) -> str:
        return f"{self.url}{DIRECTORY_PREFIX}"

    def serve(self, ca: SandboxCA, host: str = "127.0.0.1") -> _Serving:
        return _Serving(self, HttpsServer(self.app(), ca, host))

    def app(self) -> ASGIApp:
        d = DIRECTORY_PREFIX
        routes = [
            Route("/token", self._token, methods=["POST"]),
            Route(f"{d}/customer/{{customer}}/domains", self._api(self._domains), methods=["GET"]),
            Route(
                f"{d}/customer/{{customer}}/domains/{{name}}",
                self._api(self._domain),
                methods=["GET"],
            ),
            Route(f"{d}/users", self._api(self._insert_user), methods=["POST"]),
            Route(f"{d}/users/{{key}}", self._api(self._get_user), methods=["GET"]),
            Route(f"{d}/users/{{key}}", self._api(self._delete_user), methods=["DELETE"]),
            Route(
                f"{d}/users/{{key}}/photos/thumbnail",
                self._api(self._update_photo),
                methods=["PUT", "PATCH"],
            ),
            Route(f"{d}/users/{{key}}/photos/thumbnail", self._api(self._get_photo)),
        ]
        return _Recorder(self, Starlette(routes=routes))

    def _outage_for(self, method: str, path: str) -> Outage | None:
        with self._lock:
            for outage in self.outages:
                if outage.method not in ("", method) or outage.path not in path:
                    continue
                if outage.times != 0:
                    if outage.times is not None:
                        outage.times -= 1
                    return outage
        return None

    # ----- the token endpoint --------------------------------------------------------------

    async def _token(self, request: Request) -> Response:
        form = await request.form()
        try:
            if form.get("grant_type") != JWT_BEARER:
                raise _OAuthError(
                    "unsupported_grant_type", f"Invalid grant_type: {form.get('grant_type')}"
                )
            grant = self._grant(
                str(form.get("assertion") or ""), str(request.url.replace(query=""))
            )
        except _OAuthError as e:
            body = {"error": e.error, "error_description": e.description}
            return JSONResponse(body, e.status)
        token = "ya29.sandbox-" + secrets.token_urlsafe(24)
        self.tokens[token] = grant
        request.state.subject = grant.subject
        return JSONResponse(
            {"access_token": token, "expires_in": self.token_ttl, "token_type": "Bearer"}
        )

    def _grant(self, assertion: str, audience: str) -> _Grant:
        account = self._signer(assertion)
        try:
            claims = jwt.decode(
                assertion,
                account.private_key.public_key(),
                algorithms=["RS256"],
                audience=audience,
                issuer=account.client_email,
                options={"require": ["iss", "aud", "iat", "exp"]},
                leeway=300,
            )
        except jwt.InvalidSignatureError as e:
            raise _OAuthError("invalid_grant", "Invalid JWT Signature.") from e
        except jwt.PyJWTError as e:
            raise _OAuthError("invalid_grant", f"Invalid JWT: {e}") from e
        if int(claims["exp"]) - int(claims["iat"]) > 3600:
            raise _OAuthError(
                "invalid_grant", "Invalid JWT: Token must be a short-lived token (60 minutes)"
            )
        return _Grant(
            self._subject(claims), self._scopes(account, claims), time.time() + self.token_ttl
        )

    def _signer(self, assertion: str) -> ServiceAccount:
        try:
            header = jwt.get_unverified_header(assertion)
            issuer = jwt.decode(assertion, options={"verify_signature": False}).get("iss")
        except jwt.PyJWTError as e:
            raise _OAuthError("invalid_grant", f"Invalid JWT: {e}") from e
        account = self.accounts.get(str(issuer))
        if account is None:
            raise _OAuthError("invalid_grant", "Invalid grant: account not found")
        if header.get("kid") not in (None, account.private_key_id):
            raise _OAuthError("invalid_grant", "Invalid JWT Signature.")
        return account

    def _subject(self, claims: dict[str, Any]) -> str:
        user = self.user(str(claims.get("sub") or ""))
        if user is None or not user["isAdmin"] or user["suspended"]:
            raise _OAuthError("invalid_grant", "Invalid email or User ID")
        return str(user["primaryEmail"])

    def _scopes(self, account: ServiceAccount, claims: dict[str, Any]) -> frozenset[str]:
        scopes = frozenset(str(claims.get("scope") or "").split())
        if not scopes:
            raise _OAuthError("invalid_scope", "Invalid OAuth scope or ID token audience provided.")
        if not scopes <= self.delegation.get(account.client_id, set()):
            raise _OAuthError("unauthorized_client", _UNAUTHORIZED_CLIENT, status=401)
        return scopes

    # ----- the Directory API ---------------------------------------------------------------

    def _api(
        self, handler: Callable[[Request, _Grant], Awaitable[Response]]
    ) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            try:
                grant = self._bearer(request)
                request.state.subject = grant.subject
                needed = (USER_SCOPE,) if "/users" in request.url.path else DOMAIN_SCOPES
                if not grant.scopes & set(needed):
                    raise GoogleError(
                        403, "Request had insufficient authentication scopes.", "forbidden"
                    )
                return await handler(request, grant)
            except GoogleError as e:
                return e.response()

        return endpoint

    def _bearer(self, request: Request) -> _Grant:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        grant = self.tokens.get(token) if scheme.lower() == "bearer" else None
        if grant is None or grant.expires < time.time():
            raise GoogleError(401, "Request had invalid authentication credentials.", "authError")
        return grant

    async def _domains(self, request: Request, grant: _Grant) -> Response:
        domains = [self._domain_body(name) for name in sorted(self.domains)]
        return JSONResponse({"kind": "admin#directory#domains", "domains": domains})

    async def _domain(self, request: Request, grant: _Grant) -> Response:
        name = request.path_params["name"].lower()
        if name not in self.domains:
            raise GoogleError(404, "Domain not found.", "notFound")
        return JSONResponse(self._domain_body(name))

    def _domain_body(self, name: str) -> dict[str, Any]:
        primary = name == next(iter(sorted(self.domains)), None)
        return {
            "kind": "admin#directory#domain",
            "domainName": name,
            "verified": self.domains[name],
            "isPrimary": primary,
            "creationTime": "1700000000000",
        }

    async def _insert_user(self, request: Request, grant: _Grant) -> Response:
        body = await _json_body(request)
        email = str(body.get("primaryEmail") or "").lower()
        local, _, domain = email.partition("@")
        if not local or not self.domains.get(domain):
            raise GoogleError(400, "Invalid Input: primary_user_email")
        name = body.get("name") or {}
        for part in ("givenName", "familyName"):
            if not str(name.get(part) or "").strip() or len(str(name[part])) > 60:
                raise GoogleError(400, f"Invalid Given/Family Name: {part}")
        password = str(body.get("password") or "")
        if not 8 <= len(password) <= 100:
            raise GoogleError(400, "Invalid Password")
        if email in self.users:
            raise GoogleError(409, "Entity already exists.", "duplicate")
        user = self.add_user(email, str(name["givenName"]), str(name["familyName"]))
        user["changePasswordAtNextLogin"] = bool(body.get("changePasswordAtNextLogin", False))
        if body.get("externalIds"):
            user["externalIds"] = body["externalIds"]
        self.passwords[user["id"]] = password
        return JSONResponse(user)

    def _find_user(self, key: str) -> dict[str, Any]:
        user = self.users.get(key.lower())
        user = user or next((u for u in self.users.values() if u["id"] == key), None)
        if user is None:
            raise GoogleError(404, "Resource Not Found: userKey", "notFound")
        return user

    async def _get_user(self, request: Request, grant: _Grant) -> Response:
        return JSONResponse(self._find_user(request.path_params["key"]))

    async def _delete_user(self, request: Request, grant: _Grant) -> Response:
        user = self._find_user(request.path_params["key"])
        with self._lock:
            self.users.pop(user["primaryEmail"], None)
            self.photos.pop(user["id"], None)
            self.passwords.pop(user["id"], None)
        return Response(status_code=204)

    async def _update_photo(self, request: Request, grant: _Grant) -> Response:
        user = self._find_user(request.path_params["key"])
        body = await _json_body(request)
        mime = _PHOTO_TYPES.get(str(body.get("mimeType") or "").upper())
        data = _web_safe_decode(str(body.get("photoData") or ""))
        width, height = _image_size(data, mime)
        if body.get("width") not in (None, width) or body.get("height") not in (None, height):
            raise GoogleError(400, "Invalid Input: width/height do not match photoData")
        photo = {
            "kind": "admin#directory#user#photo",
            "id": user["id"],
            "primaryEmail": user["primaryEmail"],
            "photoData": body["photoData"],
            "mimeType": body["mimeType"],
            "width": width,
            "height": height,
            "etag": secrets.token_hex(8),
        }
        self.photos[user["id"]] = {**photo, "bytes": data}
        return JSONResponse(photo)

    async def _get_photo(self, request: Request, grant: _Grant) -> Response:
        user = self._find_user(request.path_params["key"])
        photo = self.photos.get(user["id"])
        if photo is None:
            raise GoogleError(404, "Resource Not Found: photo", "notFound")
        return JSONResponse({k: v for k, v in photo.items() if k != "bytes"})


async def _json_body(request: Request) -> dict[str, Any]:
    try:
        body = json.loads(await request.body())
    except ValueError as e:
        raise GoogleError(400, "Invalid JSON payload received.", "parseError") from e
    if not isinstance(body, dict):
        raise GoogleError(400, "Invalid JSON payload received.", "parseError")
    return body


def _web_safe_decode(text: str) -> bytes:
    """Web-safe Base64 as Google defines it: ``-`` and ``_`` for ``+`` and ``/``; padding may
    be ``=``, ``*`` or ``.``. The standard alphabet's ``+`` and ``/`` are refused."""
    if not text or "+" in text or "/" in text:
        raise GoogleError(400, "Invalid Input: photoData must be web-safe base64")
    padded = text.replace("*", "=").replace(".", "=")
    try:
        return base64.b64decode(padded, altchars=b"-_", validate=True)
    except (binascii.Error, ValueError) as e:
        raise GoogleError(400, "Invalid Input: photoData must be web-safe base64") from e


def _image_size(data: bytes, mime: str | None) -> tuple[int, int]:
    if mime is None:
        raise GoogleError(400, "Invalid Input: mimeType")
    try:
        with Image.open(io.BytesIO(data), formats=[mime]) as image:
            image.verify()
            return image.size
    except Exception as e:
        raise GoogleError(400, f"Invalid Input: photoData is not a {mime} image") from e


class _Recorder:
    """Logs every request with its final status, and applies the outages before routing."""

    def __init__(self, workspace: GoogleWorkspace, app: ASGIApp) -> None:
        self.workspace, self.app = workspace, app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        outage = self.workspace._outage_for(scope["method"], scope["path"])
        if outage is not None:
            if outage.after:
                await self.app(scope, receive, _swallow)
            await self._fail(scope, outage, send)
            return
        scope.setdefault("state", {})

        async def recording(message: Message) -> None:
            if message["type"] == "http.response.start":  # logged before the client can know
                self._log(scope, message["status"], scope["state"].get("subject"))
            await send(message)

        await self.app(scope, receive, recording)

    async def _fail(self, scope: Scope, outage: Outage, send: Send) -> None:
        self._log(scope, outage.status)
        if outage.status == DROP:
            await send(
                {
                    "type": "http.response.start",
                    "status": 200,
                    "headers": [(b"content-length", b"100")],
                }
            )
            await send({"type": "http.response.body", "body": b"{", "more_body": True})
            raise ConnectionAbortedError("sandbox outage: connection dropped")
        headers = [(b"content-type", b"application/json")]
        if outage.retry_after is not None:
            headers.append((b"retry-after", f"{outage.retry_after:g}".encode()))
        body = json.dumps(
            {"error": {"code": outage.status, "message": "Sandbox outage", "status": "UNAVAILABLE"}}
        )
        await send({"type": "http.response.start", "status": outage.status, "headers": headers})
        await send({"type": "http.response.body", "body": body.encode()})

    def _log(self, scope: Scope, status: int, subject: str | None = None) -> None:
        with self.workspace._lock:
            self.workspace.requests.append(
                LoggedRequest(scope["method"], scope["path"], status, subject)
            )


async def _swallow(message: Message) -> None:
    """Where the answer of a request goes when only its answer is lost."""


class _Serving:
    """``with workspace.serve(ca):`` runs the fake and sets ``workspace.url``."""

    def __init__(self, workspace: GoogleWorkspace, server: HttpsServer) -> None:
        self.workspace, self.server = workspace, server

    def __enter__(self) -> HttpsServer:
        self.server.start()
        self.workspace.url = self.server.url
        return self.server

    def __exit__(self, *exc: object) -> None:
        self.server.stop()

    async def __aenter__(self) -> HttpsServer:
        await self.server.__aenter__()
        self.workspace.url = self.server.url
        return self.server

    async def __aexit__(self, *exc: Any) -> None:
        await self.server.__aexit__(None, None, None)
