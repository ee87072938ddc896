"""``MicrosoftGraph``: the identity platform's token endpoint and Graph, app-only."""

from __future__ import annotations

import asyncio
import functools
import random
from collections.abc import Awaitable, Callable, Sequence
from typing import Any
from urllib.parse import quote

import httpx
import structlog

from perch.server.integrations.httpkit import retry_after
from perch.server.integrations.microsoft.errors import (
    MicrosoftError,
    MicrosoftUnavailable,
    TokenRefused,
    graph_refusal,
)
from perch.server.integrations.microsoft.models import (
    AccessToken,
    AppCredential,
    GraphCall,
    GraphUser,
    MailFolder,
    granted_roles,
)
from perch.server.integrations.microsoft.shared import GraphShared, mailbox_keys

log = structlog.get_logger(__name__)

GRAPH_SCOPE = "https://graph.microsoft.com/.default"
BATCH_SIZE = 20  # Graph's limit of requests in one $batch
BATCHES_IN_FLIGHT = 10
Outcome = dict[str, Any] | MicrosoftError
Slots = list["Outcome | _Retry | None"]


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
        async with self._shared.limits.slot():
            response = await self._send(functools.partial(self._http.post, url, data=form))
        if response.status_code >= 400:
            raise _token_refusal(response)
        log.info("microsoft.token.acquired", tenant=app.tenant_id, client_id=app.client_id)
        return _access_token(response)

    # -- Graph: one method per resource ------------------------------------------------

    async def get_user(self, app: AppCredential, user: str) -> GraphUser:
        return GraphUser.from_graph(await self.call(app, GraphCall.user(user)))

    async def find_users_by_address(self, app: AppCredential, address: str) -> list[GraphUser]:
        data = await self.call(app, GraphCall.users_by_address(address))
        return [GraphUser.from_graph(item) for item in data.get("value", [])]

    async def get_inbox(self, app: AppCredential, user: str) -> MailFolder:
        return MailFolder.from_graph(await self.call(app, GraphCall.inbox(user)))

    # -- Graph: the two ways to send ---------------------------------------------------

    async def call(self, app: AppCredential, call: GraphCall) -> dict[str, Any]:
        """One request on its own: the answer's body, or the refusal raised."""
        async with self._shared.limits.slot(*mailbox_keys(app.tenant_id, [call.mailbox])):
            response = await self._authorized(
                app, call.method, call.path, params=call.params, json=call.body
            )
        return _result(response.status_code, _json(response))

    async def batch(self, app: AppCredential, calls: Sequence[GraphCall]) -> list[Outcome]:
        """Many requests in few round trips (JSON batching, ``BATCH_SIZE`` a ``$batch``,
        ``BATCHES_IN_FLIGHT`` at once). Each outcome is the answer's body or the error the
        request alone would have raised; inner 429/5xx answers are sent again (their
        ``Retry-After`` honoured) like single requests."""
        outcomes: Slots = [None] * len(calls)
        pending = list(range(len(calls)))
        for attempt in range(self._max_retries + 1):
            wait = await self._batch_round(app, calls, pending, outcomes)
            pending = [i for i in pending if isinstance(outcomes[i], _Retry)]
            if not pending or attempt == self._max_retries or wait > self._max_retry_after:
                break
            await self._wait(attempt, wait or None, "batch item throttled")
        return [_final(outcome) for outcome in outcomes]

    async def _batch_round(
        self,
        app: AppCredential,
        calls: Sequence[GraphCall],
        pending: list[int],
        outcomes: Slots,
    ) -> float:
        """Send ``pending`` once, fill ``outcomes``; the longest Retry-After asked for."""
        gate = asyncio.Semaphore(BATCHES_IN_FLIGHT)
        chunks = _chunks(pending, calls, self._shared.limits.per_mailbox)

        async def send(chunk: list[int]) -> float:
            async with gate:
                return await self._send_batch(app, [calls[i] for i in chunk], chunk, outcomes)

        waits = await asyncio.gather(*(send(chunk) for chunk in chunks))
        return max(waits, default=0.0)

    async def _send_batch(
        self,
        app: AppCredential,
        calls: list[GraphCall],
        slots: list[int],
        outcomes: Slots,
    ) -> float:
        envelope = {"requests": [_batch_item(n, call) for n, call in enumerate(calls)]}
        keys = mailbox_keys(app.tenant_id, [c.mailbox for c in calls])
        try:
            async with self._shared.limits.slot(*keys):
                response = await self._authorized(app, "POST", "/$batch", json=envelope)
            answers = _result(response.status_code, _json(response)).get("responses", [])
        except MicrosoftError as e:
            for slot in slots:
                outcomes[slot] = e
            return 0.0
        return _fill(answers, slots, outcomes)

    async def _authorized(
        self, app: AppCredential, method: str, path: str, **kwargs: Any
    ) -> httpx.Response:
        """A Graph request with a bearer token; a 401 is tried once more with a fresh one."""
        for fresh_token in (False, True):
            token = await self.token(app)
            headers = {"Authorization": f"Bearer {token.value}"}
            url = f"{self._graph_url}{path}"
            send = functools.partial(self._http.request, method, url, headers=headers, **kwargs)
            response = await self._send(send)
            if response.status_code != 401 or fresh_token:
                break
            self._shared.tokens.invalidate(app.cache_key)
        return response

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
            wait = retry_after(response.headers.get("retry-after"))
            if attempt == self._max_retries or (wait or 0) > self._max_retry_after:
                raise MicrosoftUnavailable(f"Microsoft answered {response.status_code}")
            await self._wait(attempt, wait, str(response.status_code))
        raise AssertionError("unreachable")  # pragma: no cover

    async def _wait(self, attempt: int, retry_after: float | None, reason: str) -> None:
        delay = retry_after if retry_after is not None else self._backoff * 2**attempt
        delay += 0 if retry_after is not None else random.uniform(0, self._backoff / 2)
        log.info("microsoft.retry", attempt=attempt + 1, delay=round(delay, 3), reason=reason)
        await asyncio.sleep(delay)


class _Retry:
    """An inner answer of a ``$batch`` to send again (429/5xx)."""

    def __init__(self, status: int, wait: float | None) -> None:
        self.wait = wait
        self.error = MicrosoftUnavailable(f"Microsoft answered {status}")


def _batch_item(n: int, call: GraphCall) -> dict[str, Any]:
    item: dict[str, Any] = {"id": str(n), "method": call.method, "url": call.relative_url()}
    if call.body is not None:
        item |= {"body": call.body, "headers": {"Content-Type": "application/json"}}
    return item


def _chunks(pending: list[int], calls: Sequence[GraphCall], per_mailbox: int) -> list[list[int]]:
    """``BATCH_SIZE`` calls a chunk, never more than ``per_mailbox`` for one mailbox."""
    chunks: list[list[int]] = []
    for index in pending:
        mailbox = calls[index].mailbox
        for chunk in chunks:
            same = sum(1 for i in chunk if mailbox and calls[i].mailbox == mailbox)
            if len(chunk) < BATCH_SIZE and same < per_mailbox:
                chunk.append(index)
                break
        else:
            chunks.append([index])
    return chunks


def _fill(answers: list[Any], slots: list[int], outcomes: Slots) -> float:
    """Inner answers into ``outcomes``; the longest Retry-After among those to send again."""
    by_id = {str(a.get("id")): a for a in answers if isinstance(a, dict)}
    wait = 0.0
    for n, slot in enumerate(slots):
        answer = by_id.get(str(n), {"status": 502, "body": {}})
        status = int(answer.get("status") or 502)
        if status == 429 or status >= 500:
            headers = {str(k).lower(): str(v) for k, v in (answer.get("headers") or {}).items()}
            retry = _Retry(status, retry_after(headers.get("retry-after")))
            wait = max(wait, retry.wait or 0.0)
            outcomes[slot] = retry
            continue
        try:
            outcomes[slot] = _result(status, answer.get("body"))
        except MicrosoftError as e:
            outcomes[slot] = e
    return wait


def _final(outcome: Outcome | _Retry | None) -> Outcome:
    if isinstance(outcome, _Retry):
        return outcome.error
    return outcome if outcome is not None else MicrosoftUnavailable("no answer in the $batch")


def _json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return {}


def _result(status: int, body: Any) -> dict[str, Any]:
    """The shared Graph answer handler: the body of a 2xx, the right refusal otherwise."""
    if 200 <= status < 300:
        return body if isinstance(body, dict) else {}
    raise graph_refusal(status, body)


def _token_refusal(response: httpx.Response) -> TokenRefused:
    data = _json(response)
    data = data if isinstance(data, dict) else {}
    description = str(data.get("error_description") or "").splitlines()
    message = description[0].strip() if description else f"HTTP {response.status_code}"
    return TokenRefused(response.status_code, str(data.get("error") or "unknown"), message)


def _access_token(response: httpx.Response) -> AccessToken:
    data = _json(response)
    data = data if isinstance(data, dict) else {}
    value, expires_in = data.get("access_token"), data.get("expires_in")
    try:
        seconds = float(expires_in)  # type: ignore[arg-type]
    except (TypeError, ValueError) as e:
        raise TokenRefused(response.status_code, "invalid_response", "bad expires_in") from e
    if not isinstance(value, str) or not value:
        raise TokenRefused(response.status_code, "invalid_response", "no access_token in reply")
    return AccessToken(value, seconds, granted_roles(value))
