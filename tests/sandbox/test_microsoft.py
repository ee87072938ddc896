"""SandboxMicrosoft over real HTTPS: the token endpoint, the users resources, faults."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import httpx
import jwt
import pytest

from perch.sandbox import SandboxCA
from perch.sandbox.microsoft import GRAPH_SCOPE, SandboxMicrosoft

TENANT, CLIENT, SECRET = "contoso.test", "11111111-2222-3333-4444-555555555555", "s3cret~value"


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


async def _token(
    fake: SandboxMicrosoft, http: httpx.AsyncClient, tenant: str = TENANT, **form: str
) -> httpx.Response:
    data = {
        "grant_type": "client_credentials",
        "client_id": CLIENT,
        "client_secret": SECRET,
        "scope": GRAPH_SCOPE,
        **form,
    }
    return await http.post(f"{fake.url}/{tenant}/oauth2/v2.0/token", data=data)


async def _bearer(fake: SandboxMicrosoft, http: httpx.AsyncClient) -> dict[str, str]:
    response = await _token(fake, http)
    return {"authorization": f"Bearer {response.json()['access_token']}"}


async def test_client_credentials_grant_issues_a_jwt_with_roles(
    fake: SandboxMicrosoft, http: httpx.AsyncClient
) -> None:
    response = await _token(fake, http)
    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 3599
    claims = jwt.decode(body["access_token"], options={"verify_signature": False})
    assert claims["tid"] == TENANT
    assert claims["appid"] == CLIENT
    assert claims["roles"] == ["User.Read.All", "Mail.ReadWrite", "Mail.Send"]


@pytest.mark.parametrize(
    ("tenant", "form", "status", "error", "code"),
    [
        ("nowhere.test", {}, 400, "invalid_request", 90002),
        (TENANT, {"client_id": "unknown-app"}, 400, "unauthorized_client", 700016),
        (TENANT, {"client_secret": "wrong"}, 401, "invalid_client", 7000215),
        (TENANT, {"scope": "https://graph.microsoft.com/User.Read"}, 400, "invalid_scope", 1002012),
        (TENANT, {"grant_type": "password"}, 400, "unsupported_grant_type", 70003),
    ],
)
async def test_token_refusals_speak_aadsts(
    fake: SandboxMicrosoft,
    http: httpx.AsyncClient,
    tenant: str,
    form: dict[str, str],
    status: int,
    error: str,
    code: int,
) -> None:
    response = await _token(fake, http, tenant, **form)
    assert response.status_code == status
    body = response.json()
    assert body["error"] == error
    assert body["error_description"].startswith(f"AADSTS{code}: ")
    assert body["error_codes"] == [code]


async def test_an_expired_secret_is_refused(
    fake: SandboxMicrosoft, http: httpx.AsyncClient
) -> None:
    fake.add_tenant("old.test", "old-app", "old-secret", secret_expired=True)
    response = await _token(fake, http, "old.test", client_id="old-app", client_secret="old-secret")
    assert response.status_code == 401
    assert response.json()["error_description"].startswith("AADSTS7000222: ")


async def test_get_user_by_upn_or_id_with_select(
    fake: SandboxMicrosoft, http: httpx.AsyncClient
) -> None:
    user = fake.add_user(
        "jim@example.test", display_name="Jim", proxy_addresses=["jh@example.test"]
    )
    headers = await _bearer(fake, http)
    select = {"$select": "id,displayName,mail"}
    for name in ("jim@example.test", "JIM@example.test", user.id):
        response = await http.get(f"{fake.graph_url}/users/{name}", params=select, headers=headers)
        assert response.status_code == 200
        body = response.json()
        assert body.pop("@odata.context").endswith("#users/$entity")
        assert body == {"id": user.id, "displayName": "Jim", "mail": "jim@example.test"}
    full = (await http.get(f"{fake.graph_url}/users/{user.id}", headers=headers)).json()
    assert full["proxyAddresses"] == ["SMTP:jim@example.test", "smtp:jh@example.test"]


async def test_an_alias_is_not_a_user_path_but_filters_find_it(
    fake: SandboxMicrosoft, http: httpx.AsyncClient
) -> None:
    user = fake.add_user("jim@example.test", proxy_addresses=["jh@example.test"])
    fake.add_user("o'brien@example.test")
    headers = await _bearer(fake, http)
    missing = await http.get(f"{fake.graph_url}/users/jh@example.test", headers=headers)
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "Request_ResourceNotFound"
    query = "mail eq 'jh@example.test' or proxyAddresses/any(x:x eq 'smtp:JH@example.test')"
    found = await http.get(f"{fake.graph_url}/users", params={"$filter": query}, headers=headers)
    assert [u["id"] for u in found.json()["value"]] == [user.id]
    quoted = "userPrincipalName eq 'o''brien@example.test'"
    found = await http.get(f"{fake.graph_url}/users", params={"$filter": quoted}, headers=headers)
    assert [u["userPrincipalName"] for u in found.json()["value"]] == ["o'brien@example.test"]
    bad = await http.get(f"{fake.graph_url}/users", params={"$filter": "x gt 1"}, headers=headers)
    assert bad.status_code == 400


async def test_inbox_mailbox_less_user_and_access_policy(
    fake: SandboxMicrosoft, http: httpx.AsyncClient
) -> None:
    jim = fake.add_user("jim@example.test")
    fake.add_user("room@example.test", has_mailbox=False)
    fake.add_user("ceo@example.test", access_denied=True)
    headers = await _bearer(fake, http)

    async def inbox(user: str) -> httpx.Response:
        return await http.get(f"{fake.graph_url}/users/{user}/mailFolders/inbox", headers=headers)

    ok = await inbox(jim.id)
    assert ok.status_code == 200
    assert ok.json()["displayName"] == "Inbox"
    assert (await inbox("room@example.test")).json()["error"]["code"] == (
        "MailboxNotEnabledForRESTAPI"
    )
    denied = await inbox("ceo@example.test")
    assert (denied.status_code, denied.json()["error"]["code"]) == (403, "ErrorAccessDenied")
    assert (await inbox("nobody@example.test")).status_code == 404


async def test_missing_roles_are_403s(fake: SandboxMicrosoft, http: httpx.AsyncClient) -> None:
    fake.add_tenant("bare.test", "bare-app", "bare-secret", roles=())
    fake.add_user("jim@example.test")
    response = await _token(
        fake, http, "bare.test", client_id="bare-app", client_secret="bare-secret"
    )
    headers = {"authorization": f"Bearer {response.json()['access_token']}"}
    user = await http.get(f"{fake.graph_url}/users/jim@example.test", headers=headers)
    assert (user.status_code, user.json()["error"]["code"]) == (403, "Authorization_RequestDenied")
    inbox = await http.get(
        f"{fake.graph_url}/users/jim@example.test/mailFolders/inbox", headers=headers
    )
    assert (inbox.status_code, inbox.json()["error"]["code"]) == (403, "ErrorAccessDenied")


async def test_graph_needs_a_valid_unexpired_token(
    fake: SandboxMicrosoft, http: httpx.AsyncClient
) -> None:
    fake.add_user("jim@example.test")
    url = f"{fake.graph_url}/users/jim@example.test"
    assert (await http.get(url)).status_code == 401
    assert (await http.get(url, headers={"authorization": "Bearer forged"})).status_code == 401
    fake.tokens.lifetime = -1
    expired = await _bearer(fake, http)
    response = await http.get(url, headers=expired)
    assert response.json()["error"]["code"] == "InvalidAuthenticationToken"


async def test_users_of_another_tenant_are_invisible(
    fake: SandboxMicrosoft, http: httpx.AsyncClient
) -> None:
    fake.add_user("jim@other.test", tenant="other.test")
    headers = await _bearer(fake, http)
    response = await http.get(f"{fake.graph_url}/users/jim@other.test", headers=headers)
    assert response.status_code == 404


async def test_fail_next_with_retry_after_then_normal(
    fake: SandboxMicrosoft, http: httpx.AsyncClient
) -> None:
    fake.add_user("jim@example.test")
    headers = await _bearer(fake, http)
    fake.fail_next(2, 429, retry_after=3)
    url = f"{fake.graph_url}/users/jim@example.test"
    statuses = [(await http.get(url, headers=headers)) for _ in range(3)]
    assert [s.status_code for s in statuses] == [429, 429, 200]
    assert statuses[0].headers["retry-after"] == "3"
    assert statuses[0].json()["error"]["code"] == "TooManyRequests"


async def test_token_faults_are_separate_from_graph_faults(
    fake: SandboxMicrosoft, http: httpx.AsyncClient
) -> None:
    fake.fail_next(1, 503, where="token")
    first = await _token(fake, http)
    assert first.status_code == 503
    assert first.json()["error"] == "temporarily_unavailable"
    assert (await _token(fake, http)).status_code == 200


async def test_fail_user_and_outage(fake: SandboxMicrosoft, http: httpx.AsyncClient) -> None:
    jim = fake.add_user("jim@example.test", proxy_addresses=["jh@example.test"])
    fake.add_user("pam@example.test")
    headers = await _bearer(fake, http)
    fake.fail_user("jh@example.test", 503)
    for name in (jim.id, "jim@example.test"):
        response = await http.get(f"{fake.graph_url}/users/{name}", headers=headers)
        assert response.status_code == 503
    assert (await http.get(f"{fake.graph_url}/users/pam@example.test", headers=headers)).is_success
    fake.outage = True
    response = await http.get(f"{fake.graph_url}/users/pam@example.test", headers=headers)
    assert response.status_code == 503
    fake.clear_faults()
    assert (await http.get(f"{fake.graph_url}/users/pam@example.test", headers=headers)).is_success


async def test_more_than_four_requests_in_one_mailbox_are_throttled(
    fake: SandboxMicrosoft, http: httpx.AsyncClient
) -> None:
    jim = fake.add_user("jim@example.test")
    headers = await _bearer(fake, http)
    fake.latency = 0.3
    url = f"{fake.graph_url}/users/{jim.id}/mailFolders/inbox"
    responses = await asyncio.gather(*(http.get(url, headers=headers) for _ in range(6)))
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200, 200, 200, 200, 429, 429]
    throttled = next(r for r in responses if r.status_code == 429)
    assert throttled.json()["error"]["code"] == "ApplicationThrottled"
    assert fake.peak_concurrency[jim.id] == 6


async def test_latency_and_the_request_log(fake: SandboxMicrosoft, http: httpx.AsyncClient) -> None:
    fake.add_user("jim@example.test")
    headers = await _bearer(fake, http)
    fake.latency = 0.2
    started = time.monotonic()
    await http.get(
        f"{fake.graph_url}/users/jim@example.test", params={"$select": "id"}, headers=headers
    )
    assert time.monotonic() - started >= 0.2
    assert len(fake.token_requests()) == 1
    [logged] = fake.graph_requests()
    assert (logged.method, logged.path, logged.query) == (
        "GET",
        "/v1.0/users/jim@example.test",
        {"$select": "id"},
    )
    assert logged.headers["authorization"].startswith("Bearer ")


def test_serves_synchronously_too(sandbox_ca: SandboxCA) -> None:
    with SandboxMicrosoft(sandbox_ca) as fake:
        response = httpx.get(f"{fake.graph_url}/users/x", verify=sandbox_ca.client_context())
        assert response.status_code == 401


async def test_json_batching(fake: SandboxMicrosoft, http: httpx.AsyncClient) -> None:
    jim = fake.add_user("jim@example.test", display_name="Jim")
    headers = await _bearer(fake, http)
    fake.fail_next(1, 429, retry_after=2)
    requests = [
        {"id": "a", "method": "GET", "url": "/users/nobody@example.test"},
        {"id": "b", "method": "GET", "url": f"/users/{jim.id}?$select=displayName"},
        {"id": "c", "method": "GET", "url": "/users/jim%40example.test/mailFolders/inbox"},
    ]
    response = await http.post(
        f"{fake.graph_url}/$batch", json={"requests": requests}, headers=headers
    )
    assert response.status_code == 200
    answers = {a["id"]: a for a in response.json()["responses"]}
    statuses = sorted(a["status"] for a in answers.values())
    assert statuses in ([200, 404, 429], [200, 200, 429])  # the fault hit one of them
    throttled = next(a for a in answers.values() if a["status"] == 429)
    assert throttled["headers"]["Retry-After"] == "2"
    if answers["b"]["status"] == 200:
        assert answers["b"]["body"]["displayName"] == "Jim"
    assert len(fake.batch_requests()) == 1
    assert sorted(q.path for q in fake.graph_requests()) == sorted(
        [
            "/v1.0/users/nobody@example.test",
            f"/v1.0/users/{jim.id}",
            "/v1.0/users/jim@example.test/mailFolders/inbox",
        ]
    )


async def test_batch_limits_and_auth(fake: SandboxMicrosoft, http: httpx.AsyncClient) -> None:
    url = f"{fake.graph_url}/$batch"
    one = {"id": "1", "method": "GET", "url": "/users/x"}
    assert (await http.post(url, json={"requests": [one]})).status_code == 401
    headers = await _bearer(fake, http)
    too_many = {"requests": [{**one, "id": str(n)} for n in range(21)]}
    assert (await http.post(url, json=too_many, headers=headers)).status_code == 400
    assert (
        await http.post(url, json={"requests": [{"id": "1"}]}, headers=headers)
    ).status_code == 400
