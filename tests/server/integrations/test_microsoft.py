"""MicrosoftGraph against the sandbox Microsoft fake over real HTTPS."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import httpx
import pytest

from perch.sandbox import SandboxCA
from perch.sandbox.microsoft import SandboxMicrosoft
from perch.server.integrations.microsoft import (
    AccessToken,
    AppCredential,
    GraphCall,
    GraphForbidden,
    GraphNotFound,
    GraphShared,
    MailboxLimits,
    MicrosoftGraph,
    MicrosoftUnavailable,
    TokenCache,
    TokenRefused,
)
from tests.helpers import free_port

TENANT, CLIENT, SECRET = "contoso.test", "app-1", "s3cret-value"
APP = AppCredential(TENANT, CLIENT, SECRET)


@pytest.fixture
async def fake(sandbox_ca: SandboxCA) -> AsyncIterator[SandboxMicrosoft]:
    fake = SandboxMicrosoft(sandbox_ca)
    fake.add_tenant(TENANT, CLIENT, SECRET)
    async with fake:
        yield fake


@pytest.fixture
async def http(sandbox_ca: SandboxCA) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(verify=sandbox_ca.client_context()) as client:
        yield client


def _graph(
    http: httpx.AsyncClient, url: str, *, retries: int = 2, **kwargs: float
) -> MicrosoftGraph:
    return MicrosoftGraph(
        http,
        login_url=url,
        graph_url=f"{url}/v1.0",
        shared=GraphShared(),
        max_retries=retries,
        backoff=0.05,
        **kwargs,
    )


@pytest.fixture
def graph(fake: SandboxMicrosoft, http: httpx.AsyncClient) -> MicrosoftGraph:
    return _graph(http, fake.url)


async def test_token_is_requested_once_and_carries_roles(
    graph: MicrosoftGraph, fake: SandboxMicrosoft
) -> None:
    tokens = await asyncio.gather(*(graph.token(APP) for _ in range(20)))
    assert len({t.value for t in tokens}) == 1
    assert tokens[0].roles == {"User.Read.All", "Mail.ReadWrite", "Mail.Send"}
    assert tokens[0].expires_in == 3599
    [asked] = fake.token_requests()
    assert asked.path == f"/{TENANT}/oauth2/v2.0/token"


async def test_wrong_secret_is_refused_with_microsofts_reason(graph: MicrosoftGraph) -> None:
    with pytest.raises(TokenRefused) as refused:
        await graph.token(AppCredential(TENANT, CLIENT, "wrong"))
    assert refused.value.status == 401
    assert refused.value.code == "invalid_client"
    assert refused.value.message.startswith("AADSTS7000215: Invalid client secret provided.")
    assert "Trace ID" not in refused.value.message
    assert "wrong" not in str(refused.value)


async def test_unknown_tenant_and_app(graph: MicrosoftGraph) -> None:
    with pytest.raises(TokenRefused, match="AADSTS90002"):
        await graph.token(AppCredential("elsewhere.test", CLIENT, SECRET))
    with pytest.raises(TokenRefused, match="AADSTS700016"):
        await graph.token(AppCredential(TENANT, "other-app", SECRET))


async def test_a_token_endpoint_hiccup_is_retried(
    graph: MicrosoftGraph, fake: SandboxMicrosoft
) -> None:
    fake.fail_next(1, 503, where="token")
    assert (await graph.token(APP)).value
    assert len(fake.token_requests()) == 2


async def test_token_cache_refreshes_shortly_before_expiry() -> None:
    now = [1000.0]
    cache = TokenCache(clock=lambda: now[0])
    fetched: list[str] = []

    async def fetch() -> AccessToken:
        fetched.append(f"t{len(fetched)}")
        return AccessToken(fetched[-1], 3600, None)

    assert (await cache.get("k", fetch)).value == "t0"
    now[0] += 3600 - 300 - 1
    assert (await cache.get("k", fetch)).value == "t0"
    now[0] += 2  # inside the last five minutes
    assert (await cache.get("k", fetch)).value == "t1"
    cache.invalidate("k")
    assert (await cache.get("k", fetch)).value == "t2"


async def test_get_user_and_find_by_alias(graph: MicrosoftGraph, fake: SandboxMicrosoft) -> None:
    jim = fake.add_user(
        "jim@example.test", display_name="Jim H", proxy_addresses=["jh@example.test"]
    )
    user = await graph.get_user(APP, "jim@example.test")
    assert (user.id, user.display_name, user.user_principal_name) == (
        jim.id,
        "Jim H",
        "jim@example.test",
    )
    assert user.is_primary("JIM@example.test") and not user.is_primary("jh@example.test")
    assert user.has_alias("jh@example.test")
    assert (
        fake.graph_requests()[0].query["$select"]
        == "id,displayName,mail,userPrincipalName,proxyAddresses"
    )
    with pytest.raises(GraphNotFound) as missing:
        await graph.get_user(APP, "jh@example.test")
    assert missing.value.code == "Request_ResourceNotFound"
    [found] = await graph.find_users_by_address(APP, "JH@example.test")
    assert found.id == jim.id
    assert await graph.find_users_by_address(APP, "nobody@example.test") == []


async def test_odd_addresses_are_quoted(graph: MicrosoftGraph, fake: SandboxMicrosoft) -> None:
    fake.add_user("o'neil#1@example.test")
    user = await graph.get_user(APP, "o'neil#1@example.test")
    assert user.user_principal_name == "o'neil#1@example.test"
    [found] = await graph.find_users_by_address(APP, "o'neil#1@example.test")
    assert found.id == user.id


async def test_inbox_and_its_refusals(graph: MicrosoftGraph, fake: SandboxMicrosoft) -> None:
    jim = fake.add_user("jim@example.test")
    fake.add_user("room@example.test", has_mailbox=False)
    fake.add_user("ceo@example.test", access_denied=True)
    assert (await graph.get_inbox(APP, jim.id)).display_name == "Inbox"
    with pytest.raises(GraphNotFound) as no_mailbox:
        await graph.get_inbox(APP, "room@example.test")
    assert no_mailbox.value.code == "MailboxNotEnabledForRESTAPI"
    with pytest.raises(GraphForbidden) as denied:
        await graph.get_inbox(APP, "ceo@example.test")
    assert denied.value.code == "ErrorAccessDenied"


async def test_429_waits_for_retry_after_then_succeeds(
    graph: MicrosoftGraph, fake: SandboxMicrosoft
) -> None:
    fake.add_user("jim@example.test")
    await graph.token(APP)
    fake.fail_next(1, 429, retry_after=1)
    started = time.monotonic()
    user = await graph.get_user(APP, "jim@example.test")
    assert user.user_principal_name == "jim@example.test"
    assert time.monotonic() - started >= 1.0
    assert len(fake.graph_requests()) == 2


async def test_an_outage_is_unavailable_after_the_retries(
    graph: MicrosoftGraph, fake: SandboxMicrosoft
) -> None:
    fake.add_user("jim@example.test")
    await graph.token(APP)
    fake.outage = True
    with pytest.raises(MicrosoftUnavailable, match="503"):
        await graph.get_user(APP, "jim@example.test")
    assert len(fake.graph_requests()) == 3  # the first try and two retries


async def test_a_retry_after_beyond_the_cap_gives_up_at_once(
    fake: SandboxMicrosoft, http: httpx.AsyncClient
) -> None:
    graph = _graph(http, fake.url, max_retry_after=5)
    fake.add_user("jim@example.test")
    await graph.token(APP)
    fake.fail_next(1, 429, retry_after=120)
    with pytest.raises(MicrosoftUnavailable, match="429"):
        await graph.get_user(APP, "jim@example.test")
    assert len(fake.graph_requests()) == 1


async def test_a_network_failure_is_unavailable(http: httpx.AsyncClient) -> None:
    graph = _graph(http, f"https://127.0.0.1:{free_port()}", retries=1)
    with pytest.raises(MicrosoftUnavailable) as failed:
        await graph.token(APP)
    assert isinstance(failed.value.__cause__, httpx.ConnectError)


async def test_a_revoked_token_is_replaced_once(
    graph: MicrosoftGraph, fake: SandboxMicrosoft
) -> None:
    fake.add_user("jim@example.test")
    first = await graph.token(APP)
    fake.tokens.revoke_all()
    assert (await graph.get_user(APP, "jim@example.test")).user_principal_name == "jim@example.test"
    assert (await graph.token(APP)).value != first.value
    assert len(fake.token_requests()) == 2


async def test_no_more_than_four_requests_at_once_per_mailbox(
    graph: MicrosoftGraph, fake: SandboxMicrosoft
) -> None:
    jim = fake.add_user("jim@example.test")
    pam = fake.add_user("pam@example.test")
    await graph.token(APP)
    fake.latency = 0.2
    calls = [graph.get_inbox(APP, jim.id) for _ in range(10)]
    calls += [graph.get_inbox(APP, pam.id) for _ in range(4)]
    await asyncio.gather(*calls)  # the fake throttles a fifth one with 429
    assert fake.peak_concurrency[jim.id] == 4
    assert fake.peak_concurrency[pam.id] == 4
    assert len(fake.graph_requests()) == 14  # nothing was throttled and retried


async def test_the_overall_bound() -> None:
    limits = MailboxLimits(per_mailbox=4, overall=3)
    running, peak = 0, 0

    async def work(mailbox: str | None) -> None:
        nonlocal running, peak
        async with limits.slot(*([mailbox] if mailbox else [])):
            running += 1
            peak = max(peak, running)
            await asyncio.sleep(0.01)
            running -= 1

    await asyncio.gather(*(work(f"m{i % 5}" if i % 2 else None) for i in range(30)))
    assert peak == 3
    assert limits._mailboxes == {}  # nothing left behind


async def test_batch_sends_twenty_a_round_trip_in_order(
    graph: MicrosoftGraph, fake: SandboxMicrosoft
) -> None:
    users = [fake.add_user(f"u{i}@example.test", display_name=f"U{i}") for i in range(30)]
    calls = [GraphCall.user(u.user_principal_name) for u in users]
    calls += [GraphCall.user("nobody@example.test"), GraphCall.inbox(users[0].id)]
    outcomes = await graph.batch(APP, calls)
    assert [o["displayName"] for o in outcomes[:30]] == [f"U{i}" for i in range(30)]
    assert isinstance(outcomes[30], GraphNotFound)
    assert outcomes[31] == {
        "@odata.context": outcomes[31]["@odata.context"],
        "id": f"inbox-{users[0].id}",
        "displayName": "Inbox",
    }
    assert len(fake.batch_requests()) == 2
    assert len(fake.graph_requests()) == 32


async def test_batch_retries_throttled_items_only(
    graph: MicrosoftGraph, fake: SandboxMicrosoft
) -> None:
    users = [fake.add_user(f"u{i}@example.test") for i in range(3)]
    await graph.token(APP)
    fake.fail_next(1, 429, retry_after=1)
    started = time.monotonic()
    outcomes = await graph.batch(APP, [GraphCall.user(u.id) for u in users])
    assert [o["id"] for o in outcomes] == [u.id for u in users]
    assert time.monotonic() - started >= 1.0
    assert len(fake.batch_requests()) == 2
    assert len(fake.graph_requests()) == 4


async def test_batch_items_that_stay_unavailable(
    graph: MicrosoftGraph, fake: SandboxMicrosoft
) -> None:
    jim, pam = fake.add_user("jim@example.test"), fake.add_user("pam@example.test")
    fake.fail_user("pam@example.test", 503)
    outcomes = await graph.batch(APP, [GraphCall.user(jim.id), GraphCall.user(pam.id)])
    assert outcomes[0]["id"] == jim.id
    assert isinstance(outcomes[1], MicrosoftUnavailable)
    assert len(fake.batch_requests()) == 3  # the first round and two retries of pam


async def test_a_batch_outage_fails_every_item(
    graph: MicrosoftGraph, fake: SandboxMicrosoft
) -> None:
    jim = fake.add_user("jim@example.test")
    await graph.token(APP)
    fake.outage = True
    outcomes = await graph.batch(APP, [GraphCall.user(jim.id), GraphCall.inbox(jim.id)])
    assert all(isinstance(o, MicrosoftUnavailable) for o in outcomes)


async def test_batches_keep_the_mailbox_limit(
    graph: MicrosoftGraph, fake: SandboxMicrosoft
) -> None:
    jim = fake.add_user("jim@example.test")
    await graph.token(APP)
    fake.latency = 0.1
    outcomes = await graph.batch(APP, [GraphCall.inbox(jim.id) for _ in range(10)])
    assert all(o["displayName"] == "Inbox" for o in outcomes)
    assert fake.peak_concurrency[jim.id] == 4  # 10 inner requests: batches of at most 4
    assert len(fake.batch_requests()) == 3
