"""The Google adapter against the sandbox Workspace over HTTPS: tokens, Directory calls,
retries, and how Google's answers become exceptions."""

from __future__ import annotations

import base64
import io
import json
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from PIL import Image

from perch.sandbox import SandboxCA
from perch.sandbox.google import DOMAIN_SCOPES, DROP, USER_SCOPE, GoogleWorkspace, ServiceAccount
from perch.server.integrations.google import (
    DelegatedCredential,
    DirectoryConflict,
    DirectoryForbidden,
    DirectoryNotFound,
    GoogleDirectory,
    GoogleUnavailable,
    InvalidServiceAccountKey,
    NewUser,
    Photo,
    ServiceAccountKey,
    TokenCache,
    TokenRefused,
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


@pytest.fixture
def account(workspace: GoogleWorkspace) -> ServiceAccount:
    return workspace.add_service_account()


@pytest.fixture
def credential(account: ServiceAccount) -> DelegatedCredential:
    return DelegatedCredential(ServiceAccountKey.parse(account.key_json()), subject=ADMIN)


@pytest.fixture
async def google(
    workspace: GoogleWorkspace, sandbox_ca: SandboxCA
) -> AsyncIterator[GoogleDirectory]:
    async with httpx.AsyncClient(verify=sandbox_ca.client_context()) as http:
        yield GoogleDirectory(
            http,
            token_url=workspace.token_url,
            directory_url=workspace.directory_url,
            tokens=TokenCache(),
            max_retries=2,
            backoff=0.01,
        )


def _new_user(email: str = "richard@piedpiper.com") -> NewUser:
    return NewUser(email, "Richard", "Hendricks", "a-Strong-password-1", ("perch", "m-1"))


async def test_token_is_fetched_once_and_cached(
    google: GoogleDirectory, workspace: GoogleWorkspace, credential: DelegatedCredential
) -> None:
    first = await google.token(credential)
    second = await google.token(credential)
    assert first == second and first.expires_in == 3600
    assert len(workspace.served("POST", "/token")) == 1


async def test_token_refusal_carries_googles_reason(
    google: GoogleDirectory, credential: DelegatedCredential
) -> None:
    stranger = DelegatedCredential(credential.key, subject="nobody@piedpiper.com")
    with pytest.raises(TokenRefused) as refused:
        await google.request_token(stranger)
    assert refused.value.reason == "invalid_grant"
    assert refused.value.message == "Invalid email or User ID"


async def test_scopes_not_delegated_are_refused(
    google: GoogleDirectory, workspace: GoogleWorkspace, account: ServiceAccount
) -> None:
    workspace.delegation[account.client_id] = {USER_SCOPE}
    credential = DelegatedCredential(ServiceAccountKey.parse(account.key_info()), ADMIN)
    with pytest.raises(TokenRefused) as refused:
        await google.token(credential)
    assert refused.value.reason == "unauthorized_client"


async def test_domain_lookup(google: GoogleDirectory, credential: DelegatedCredential) -> None:
    domain = await google.get_domain(credential, "PiedPiper.com")
    assert (domain.name, domain.verified) == ("piedpiper.com", True)
    assert not (await google.get_domain(credential, "hooli.com")).verified
    with pytest.raises(DirectoryNotFound):
        await google.get_domain(credential, "elsewhere.com")


async def test_user_lifecycle(
    google: GoogleDirectory, workspace: GoogleWorkspace, credential: DelegatedCredential
) -> None:
    created = await google.insert_user(credential, _new_user())
    assert created.primary_email == "richard@piedpiper.com"
    assert created.external_ids == (("perch", "m-1"),)
    stored = workspace.user("richard@piedpiper.com")
    assert stored is not None and stored["changePasswordAtNextLogin"] is False
    with pytest.raises(DirectoryConflict):
        await google.insert_user(credential, _new_user())
    assert (await google.get_user(credential, created.id)).id == created.id
    await google.delete_user(credential, created.id)
    with pytest.raises(DirectoryNotFound):
        await google.delete_user(credential, created.id)


async def test_photo_is_sent_web_safe(
    google: GoogleDirectory, workspace: GoogleWorkspace, credential: DelegatedCredential
) -> None:
    data = _png_with_url_unsafe_base64()
    await google.update_photo(credential, ADMIN, Photo(data, "image/png", 3, 1))
    photo = workspace.photo_of(ADMIN)
    assert photo is not None and photo["bytes"] == data
    assert "+" not in photo["photoData"] and "/" not in photo["photoData"]
    assert (photo["mimeType"], photo["width"], photo["height"]) == ("image/png", 3, 1)


def _png_with_url_unsafe_base64() -> bytes:
    """A PNG whose standard Base64 has ``+`` or ``/`` (so web-safe encoding matters)."""
    for shade in range(256):
        out = io.BytesIO()
        Image.new("RGB", (3, 1), (shade, 255 - shade, 7)).save(out, "PNG")
        text = base64.b64encode(out.getvalue()).decode()
        if "+" in text and "/" in text:
            return out.getvalue()
    raise AssertionError("no such PNG")


async def test_retry_after_is_honoured_then_success(
    google: GoogleDirectory, workspace: GoogleWorkspace, credential: DelegatedCredential
) -> None:
    workspace.fail(503, retry_after=0, times=1, path="/token")
    workspace.fail(429, retry_after=0, times=1, path="/domains")
    assert (await google.get_domain(credential, "piedpiper.com")).verified
    assert [r.status for r in workspace.served("POST", "/token")] == [503, 200]
    assert [r.status for r in workspace.served("GET", "/domains")] == [429, 200]


async def test_outage_after_retries_is_unavailable(
    google: GoogleDirectory, workspace: GoogleWorkspace, credential: DelegatedCredential
) -> None:
    workspace.fail(503, retry_after=0, path="/users")
    with pytest.raises(GoogleUnavailable):
        await google.get_user(credential, ADMIN)
    assert len(workspace.served("GET", "/users")) == 3  # 1 + max_retries


async def test_a_long_retry_after_gives_up_at_once(
    google: GoogleDirectory, workspace: GoogleWorkspace, credential: DelegatedCredential
) -> None:
    workspace.fail(429, retry_after=3600, path="/users")
    with pytest.raises(GoogleUnavailable):
        await google.get_user(credential, ADMIN)
    assert len(workspace.served("GET", "/users")) == 1


async def test_dropped_connections_are_retried(
    google: GoogleDirectory, workspace: GoogleWorkspace, credential: DelegatedCredential
) -> None:
    workspace.fail(DROP, times=2, path="/users")
    assert (await google.get_user(credential, ADMIN)).primary_email == ADMIN
    workspace.fail(DROP, path="/users")
    with pytest.raises(GoogleUnavailable):
        await google.get_user(credential, ADMIN)


async def test_a_revoked_token_is_replaced_once(
    google: GoogleDirectory, workspace: GoogleWorkspace, credential: DelegatedCredential
) -> None:
    await google.get_user(credential, ADMIN)
    workspace.revoke_tokens()
    await google.get_user(credential, ADMIN)
    assert len(workspace.served("POST", "/token")) == 2
    assert [r.status for r in workspace.served("GET", "/users/")] == [200, 401, 200]


async def test_insufficient_scope_is_forbidden(
    google: GoogleDirectory, workspace: GoogleWorkspace, account: ServiceAccount
) -> None:
    key = ServiceAccountKey.parse(account.key_info())
    only_domains = DelegatedCredential(key, ADMIN, scopes=(DOMAIN_SCOPES[1],))
    with pytest.raises(DirectoryForbidden) as refused:
        await google.get_user(only_domains, ADMIN)
    assert refused.value.status == 403


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ("not json", "must be the JSON key file's content"),
        ({"type": "authorized_user"}, "type must be service_account"),
        ({"client_email": ""}, "client_email is missing"),
        ({"private_key": "-----BEGIN PRIVATE " + "KEY-----\nnope\n"}, "not a PEM private key"),
    ],
)
def test_unusable_keys_say_why(
    account: ServiceAccount, change: str | dict[str, str], message: str
) -> None:
    value = change if isinstance(change, str) else json.dumps(account.key_info() | change)
    with pytest.raises(InvalidServiceAccountKey, match=message):
        ServiceAccountKey.parse(value)


def test_key_never_shows_in_repr(account: ServiceAccount) -> None:
    key = ServiceAccountKey.parse(account.key_info())
    assert "PRIVATE KEY" not in repr(key)
    assert "PRIVATE KEY" not in repr(DelegatedCredential(key, ADMIN))


async def test_cached_token_is_renewed_shortly_before_it_expires(
    workspace: GoogleWorkspace, sandbox_ca: SandboxCA, credential: DelegatedCredential
) -> None:
    now = [1000.0]
    async with httpx.AsyncClient(verify=sandbox_ca.client_context()) as http:
        google = GoogleDirectory(
            http,
            token_url=workspace.token_url,
            directory_url=workspace.directory_url,
            tokens=TokenCache(clock=lambda: now[0]),
        )
        first = await google.token(credential)
        now[0] += 3600 - 300 - 1  # five minutes before expiry: still the cached one
        assert await google.token(credential) == first
        now[0] += 2
        assert await google.token(credential) != first
    assert len(workspace.served("POST", "/token")) == 2
