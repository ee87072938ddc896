"""The Google Workspace fake over HTTPS: the JWT-bearer grant, the Directory resources, outages."""

from __future__ import annotations

import base64
import io
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import jwt
import pytest
from PIL import Image

from perch.sandbox import SandboxCA
from perch.sandbox.google import (
    DEFAULT_SCOPES,
    DROP,
    JWT_BEARER,
    USER_SCOPE,
    GoogleWorkspace,
    ServiceAccount,
    make_service_account,
)

ADMIN = "admin@piedpiper.com"


@pytest.fixture
def workspace(sandbox_ca: SandboxCA) -> Iterator[GoogleWorkspace]:
    workspace = GoogleWorkspace()
    workspace.add_domain("piedpiper.com")
    workspace.add_domain("hooli.com", verified=False)
    workspace.add_admin(ADMIN)
    with workspace.serve(sandbox_ca):
        yield workspace


@pytest.fixture(scope="module")
def account() -> ServiceAccount:
    return make_service_account()


@pytest.fixture
async def http(
    sandbox_ca: SandboxCA, workspace: GoogleWorkspace
) -> AsyncIterator[httpx.AsyncClient]:
    """Closed before the fake stops: the server's TLS shutdown waits for open connections."""
    async with httpx.AsyncClient(verify=sandbox_ca.client_context()) as client:
        yield client


def _assertion(
    account: ServiceAccount, audience: str, *, sub: str = ADMIN, **overrides: Any
) -> str:
    now = int(time.time())
    claims = {"iss": account.client_email, "sub": sub, "aud": audience, "iat": now}
    claims |= {"exp": now + 3600, "scope": " ".join(DEFAULT_SCOPES)} | overrides
    headers = {"kid": account.private_key_id}
    return jwt.encode(claims, account.private_key, algorithm="RS256", headers=headers)


async def _token(
    http: httpx.AsyncClient, workspace: GoogleWorkspace, assertion: str
) -> httpx.Response:
    form = {"grant_type": JWT_BEARER, "assertion": assertion}
    return await http.post(workspace.token_url, data=form)


async def _bearer(
    http: httpx.AsyncClient, workspace: GoogleWorkspace, account: ServiceAccount
) -> dict[str, str]:
    response = await _token(http, workspace, _assertion(account, workspace.token_url))
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def _png(width: int = 8, height: int = 8) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (200, 30, 30)).save(out, "PNG")
    return out.getvalue()


async def test_token_for_a_delegated_admin(
    http: httpx.AsyncClient, workspace: GoogleWorkspace, account: ServiceAccount
) -> None:
    workspace.add_service_account(account=account)
    response = await _token(http, workspace, _assertion(account, workspace.token_url))
    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "Bearer" and body["expires_in"] == 3600
    assert body["access_token"].startswith("ya29.")


@pytest.mark.parametrize(
    ("change", "error", "status"),
    [
        ({"sub": "nobody@piedpiper.com"}, "invalid_grant", 400),
        (
            {"scope": "https://www.googleapis.com/auth/admin.directory.group"},
            "unauthorized_client",
            401,
        ),
        ({"aud": "https://elsewhere.example/token"}, "invalid_grant", 400),
        ({"exp": int(time.time()) - 3600, "iat": int(time.time()) - 7200}, "invalid_grant", 400),
        ({"exp": int(time.time()) + 7200}, "invalid_grant", 400),
    ],
)
async def test_token_refused_like_google(
    http: httpx.AsyncClient,
    workspace: GoogleWorkspace,
    account: ServiceAccount,
    change: dict[str, Any],
    error: str,
    status: int,
) -> None:
    workspace.add_service_account(account=account)
    response = await _token(http, workspace, _assertion(account, workspace.token_url, **change))
    assert response.status_code == status
    assert response.json()["error"] == error
    assert response.json()["error_description"]


async def test_signature_is_checked_against_the_accounts_public_key(
    http: httpx.AsyncClient, workspace: GoogleWorkspace, account: ServiceAccount
) -> None:
    workspace.add_service_account(account=account)
    impostor = make_service_account()
    impostor.client_email, impostor.private_key_id = account.client_email, account.private_key_id
    response = await _token(http, workspace, _assertion(impostor, workspace.token_url))
    assert response.json() == {
        "error": "invalid_grant",
        "error_description": "Invalid JWT Signature.",
    }


async def test_unknown_account_and_wrong_grant_type(
    http: httpx.AsyncClient, workspace: GoogleWorkspace, account: ServiceAccount
) -> None:
    unknown = await _token(http, workspace, _assertion(account, workspace.token_url))
    assert unknown.json()["error"] == "invalid_grant"
    form = {"grant_type": "client_credentials", "assertion": "x"}
    wrong = await http.post(workspace.token_url, data=form)
    assert wrong.status_code == 400 and wrong.json()["error"] == "unsupported_grant_type"


async def test_domains_list_and_get(
    http: httpx.AsyncClient, workspace: GoogleWorkspace, account: ServiceAccount
) -> None:
    workspace.add_service_account(account=account)
    auth = await _bearer(http, workspace, account)
    base = f"{workspace.directory_url}/customer/my_customer/domains"
    listed = (await http.get(base, headers=auth)).json()["domains"]
    assert {(d["domainName"], d["verified"]) for d in listed} == {
        ("piedpiper.com", True),
        ("hooli.com", False),
    }
    one = await http.get(f"{base}/PiedPiper.com", headers=auth)
    assert one.json()["domainName"] == "piedpiper.com"
    missing = await http.get(f"{base}/nope.com", headers=auth)
    assert missing.status_code == 404
    assert missing.json()["error"]["status"] == "NOT_FOUND"


async def test_directory_needs_a_token_with_the_scope(
    http: httpx.AsyncClient, workspace: GoogleWorkspace, account: ServiceAccount
) -> None:
    workspace.add_service_account(account=account)
    base = f"{workspace.directory_url}/users/{ADMIN}"
    assert (await http.get(base)).status_code == 401
    assert (await http.get(base, headers={"Authorization": "Bearer forged"})).status_code == 401
    scoped = _assertion(account, workspace.token_url, scope=DEFAULT_SCOPES[1])
    token = (await _token(http, workspace, scoped)).json()["access_token"]
    refused = await http.get(base, headers={"Authorization": f"Bearer {token}"})
    assert refused.status_code == 403
    assert refused.json()["error"]["message"] == "Request had insufficient authentication scopes."


async def test_tokens_can_be_revoked(
    http: httpx.AsyncClient, workspace: GoogleWorkspace, account: ServiceAccount
) -> None:
    workspace.add_service_account(account=account)
    auth = await _bearer(http, workspace, account)
    url = f"{workspace.directory_url}/users/{ADMIN}"
    assert (await http.get(url, headers=auth)).status_code == 200
    workspace.revoke_tokens()
    assert (await http.get(url, headers=auth)).status_code == 401


async def test_users_insert_get_delete(
    http: httpx.AsyncClient, workspace: GoogleWorkspace, account: ServiceAccount
) -> None:
    workspace.add_service_account(account=account)
    auth = await _bearer(http, workspace, account)
    users = f"{workspace.directory_url}/users"
    body = {
        "primaryEmail": "Richard@PiedPiper.com",
        "name": {"givenName": "Richard", "familyName": "Hendricks"},
        "password": "x" * 20,
        "changePasswordAtNextLogin": False,
        "externalIds": [{"type": "custom", "customType": "perch", "value": "m1"}],
    }
    created = await http.post(users, json=body, headers=auth)
    assert created.status_code == 200
    user = created.json()
    assert user["primaryEmail"] == "richard@piedpiper.com" and "password" not in user
    assert workspace.passwords[user["id"]] == "x" * 20
    assert (await http.post(users, json=body, headers=auth)).status_code == 409
    by_id = await http.get(f"{users}/{user['id']}", headers=auth)
    assert by_id.json()["externalIds"] == body["externalIds"]
    assert (await http.delete(f"{users}/{user['id']}", headers=auth)).status_code == 204
    assert workspace.user("richard@piedpiper.com") is None
    assert (await http.get(f"{users}/{user['id']}", headers=auth)).status_code == 404


@pytest.mark.parametrize(
    "change",
    [
        {"primaryEmail": "gavin@hooli.com"},  # the domain is not verified
        {"primaryEmail": "gavin@elsewhere.com"},
        {"password": "short"},
        {"name": {"givenName": "", "familyName": "Belson"}},
    ],
)
async def test_users_insert_validates_like_google(
    http: httpx.AsyncClient,
    workspace: GoogleWorkspace,
    account: ServiceAccount,
    change: dict[str, Any],
) -> None:
    workspace.add_service_account(account=account)
    auth = await _bearer(http, workspace, account)
    body = {
        "primaryEmail": "gavin@piedpiper.com",
        "name": {"givenName": "Gavin", "familyName": "Belson"},
        "password": "p" * 12,
    } | change
    response = await http.post(f"{workspace.directory_url}/users", json=body, headers=auth)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == 400


async def test_photo_update_needs_web_safe_base64(
    http: httpx.AsyncClient, workspace: GoogleWorkspace, account: ServiceAccount
) -> None:
    workspace.add_service_account(account=account)
    auth = await _bearer(http, workspace, account)
    png = _png(16, 12)
    url = f"{workspace.directory_url}/users/{ADMIN}/photos/thumbnail"
    web_safe = base64.urlsafe_b64encode(png).decode()
    body = {"photoData": web_safe, "mimeType": "image/png", "width": 16, "height": 12}
    stored = await http.put(url, json=body, headers=auth)
    assert stored.status_code == 200, stored.text
    photo = workspace.photo_of(ADMIN)
    assert photo is not None and photo["bytes"] == png and photo["photoData"] == web_safe
    fetched = (await http.get(url, headers=auth)).json()
    assert (fetched["width"], fetched["height"], fetched["photoData"]) == (16, 12, web_safe)

    standard = "+/" + base64.b64encode(png).decode()
    bad = await http.put(url, json=body | {"photoData": standard}, headers=auth)
    assert bad.status_code == 400
    wrong_size = await http.put(url, json=body | {"width": 99}, headers=auth)
    assert wrong_size.status_code == 400
    not_png = await http.put(url, json=body | {"mimeType": "image/jpeg"}, headers=auth)
    assert not_png.status_code == 400


async def test_outage_with_retry_after_then_recovery(
    http: httpx.AsyncClient, workspace: GoogleWorkspace, account: ServiceAccount
) -> None:
    workspace.add_service_account(account=account)
    workspace.fail(503, retry_after=7, times=2, path="/token")
    assertion = _assertion(account, workspace.token_url)
    for _ in range(2):
        down = await _token(http, workspace, assertion)
        assert down.status_code == 503 and down.headers["retry-after"] == "7"
    assert (await _token(http, workspace, assertion)).status_code == 200
    statuses = [r.status for r in workspace.served("POST", "/token")]
    assert statuses == [503, 503, 200]


async def test_rate_limit_until_cleared(
    http: httpx.AsyncClient, workspace: GoogleWorkspace, account: ServiceAccount
) -> None:
    workspace.add_service_account(account=account)
    auth = await _bearer(http, workspace, account)
    workspace.fail(429, retry_after=1, path="/users")
    url = f"{workspace.directory_url}/users/{ADMIN}"
    for _ in range(3):
        assert (await http.get(url, headers=auth)).status_code == 429
    workspace.clear_outages()
    assert (await http.get(url, headers=auth)).status_code == 200


async def test_dropped_connection(
    http: httpx.AsyncClient, workspace: GoogleWorkspace, account: ServiceAccount
) -> None:
    workspace.add_service_account(account=account)
    workspace.fail(DROP, times=1)
    with pytest.raises(httpx.TransportError):
        await _token(http, workspace, _assertion(account, workspace.token_url))
    assert (await _token(http, workspace, _assertion(account, workspace.token_url))).is_success


async def test_request_log_records_subject(
    http: httpx.AsyncClient, workspace: GoogleWorkspace, account: ServiceAccount
) -> None:
    workspace.add_service_account(account=account, scopes=(USER_SCOPE,))
    scoped = _assertion(account, workspace.token_url, scope=USER_SCOPE)
    auth = {
        "Authorization": f"Bearer {(await _token(http, workspace, scoped)).json()['access_token']}"
    }
    await http.get(f"{workspace.directory_url}/users/{ADMIN}", headers=auth)
    [logged] = workspace.served("GET", "/users/")
    assert (logged.status, logged.subject) == (200, ADMIN)


def test_key_json_has_what_google_issues(account: ServiceAccount) -> None:
    import json

    info = json.loads(account.key_json())
    assert info["type"] == "service_account"
    assert info["private_key"].startswith("-----BEGIN PRIVATE KEY-----")
    for name in ("client_email", "client_id", "private_key_id", "token_uri", "project_id"):
        assert info[name]


async def test_outage_for_one_method_only(
    http: httpx.AsyncClient, workspace: GoogleWorkspace, account: ServiceAccount
) -> None:
    workspace.add_service_account(account=account)
    auth = await _bearer(http, workspace, account)
    workspace.fail(503, method="DELETE", path="/users/")
    url = f"{workspace.directory_url}/users/{ADMIN}"
    assert (await http.get(url, headers=auth)).status_code == 200
    assert (await http.delete(url, headers=auth)).status_code == 503
    assert workspace.user(ADMIN) is not None


async def test_lost_answer_after_the_work_is_done(
    http: httpx.AsyncClient, workspace: GoogleWorkspace, account: ServiceAccount
) -> None:
    workspace.add_service_account(account=account)
    auth = await _bearer(http, workspace, account)
    workspace.fail(DROP, times=1, method="DELETE", after=True)
    with pytest.raises(httpx.TransportError):
        await http.delete(f"{workspace.directory_url}/users/{ADMIN}", headers=auth)
    assert workspace.user(ADMIN) is None  # deleted although the caller never heard back
