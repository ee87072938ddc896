"""The bulk endpoint's per-mailbox checks against the Graph fake: every item code, retries,
outages, deliverability in the result, concurrency and races."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from sqlalchemy import func, select

from perch.sandbox import SandboxDNS
from perch.sandbox.microsoft import SandboxMicrosoft
from perch.server.models.mailbox import Mailbox
from perch.server.runtime import Runtime
from tests.fixtures.app import ApiUser
from tests.server.microsoft.conftest import bulk, create_credential


def _body(credential: dict[str, Any], *emails: str, **names: str) -> dict[str, Any]:
    accounts = [{"mailbox_email": e} for e in emails]
    for account in accounts:
        if account["mailbox_email"] in names:
            account["display_name"] = names[account["mailbox_email"]]
    return {"credential_id": credential["credential_id"], "accounts": accounts}


async def _results(user: ApiUser, body: dict[str, Any]) -> tuple[int, list[dict[str, Any]]]:
    response = await bulk(user, body)
    assert response.status_code in (201, 207), response.text
    return response.status_code, response.json()


def _errors(items: list[dict[str, Any]]) -> list[str | None]:
    return [item["error"] for item in items]


async def _mailbox_count(runtime: Runtime) -> int:
    async with runtime.session() as session:
        return int((await session.execute(select(func.count(Mailbox.id)))).scalar_one())


async def test_every_item_code_in_one_batch(
    user: ApiUser, credential: dict[str, Any], microsoft: SandboxMicrosoft, runtime: Runtime
) -> None:
    microsoft.add_user("room@example.com", has_mailbox=False)
    microsoft.add_user("ceo@example.com", access_denied=True)
    microsoft.add_user("flaky@example.com")
    microsoft.add_user("odd@example.com")
    microsoft.fail_user("flaky@example.com", 503)
    microsoft.fail_user("odd@example.com", 400)
    microsoft.add_user("dwight@example.com")
    await _results(user, _body(credential, "dwight@example.com"))
    emails = [
        "jim@example.com",
        "not an address",
        "toby@example.com",
        "JIM@example.com",
        "dwight@example.com",
        "nobody@example.com",
        "michael@example.com",
        "room@example.com",
        "ceo@example.com",
        "flaky@example.com",
        "odd@example.com",
    ]
    status, items = await _results(
        user, _body(credential, *emails, **{"toby@example.com": "T" * 201})
    )
    assert status == 207
    assert _errors(items) == [
        None,
        "INVALID_EMAIL",
        "INVALID_DISPLAY_NAME",
        "DUPLICATE_IN_REQUEST",
        "ALREADY_CONNECTED",
        "USER_NOT_FOUND",
        "WRONG_ALIAS",
        "MAILBOX_NOT_ENABLED",
        "PERMISSION_MISSING",
        "GRAPH_UNAVAILABLE",
        "GRAPH_ERROR",
    ]
    assert [item["email"] for item in items] == [
        "jim@example.com",
        "not an address",
        *(e.lower() for e in emails[2:]),
    ]
    for item in items[1:]:
        assert (item["success"], item["id"], item["deliverability"]) == (False, None, None)
    assert await _mailbox_count(runtime) == 2  # dwight before, jim now


async def test_a_primary_mail_that_is_not_the_upn_connects(
    user: ApiUser, credential: dict[str, Any], microsoft: SandboxMicrosoft, runtime: Runtime
) -> None:
    pam = microsoft.add_user("pam.beesly@contoso.onmicrosoft.test", mail="pam@example.com")
    status, [item] = await _results(user, _body(credential, "pam@example.com"))
    assert (status, item["error"], item["email"]) == (201, None, "pam@example.com")
    async with runtime.session() as session:
        mailbox = (await session.execute(select(Mailbox))).scalar_one()
    assert mailbox.graph_user_id == pam.id
    inbox_paths = [q.path for q in microsoft.graph_requests() if q.path.endswith("/inbox")]
    assert f"/v1.0/users/{pam.id}/mailFolders/inbox" in inbox_paths


async def test_missing_permissions(user: ApiUser, microsoft: SandboxMicrosoft) -> None:
    microsoft.add_tenant(
        "no-send.test", "app-2", "secret-2", roles=("User.Read.All", "Mail.ReadWrite")
    )
    microsoft.add_tenant("no-dir.test", "app-3", "secret-3", roles=("Mail.ReadWrite", "Mail.Send"))
    for tenant, client, secret in (
        ("no-send.test", "app-2", "secret-2"),
        ("no-dir.test", "app-3", "secret-3"),
    ):
        credential = await create_credential(
            user, tenant_id=tenant, client_id=client, client_secret=secret
        )
        status, [item] = await _results(user, _body(credential, "jim@example.com"))
        assert (status, item["error"]) == (207, "PERMISSION_MISSING")


async def test_429_with_retry_after_then_success(
    user: ApiUser, credential: dict[str, Any], microsoft: SandboxMicrosoft
) -> None:
    microsoft.fail_next(1, 429, retry_after=1)
    started = time.monotonic()
    status, [item] = await _results(user, _body(credential, "jim@example.com"))
    assert (status, item["success"]) == (201, True)
    assert time.monotonic() - started >= 1.0
    assert any(q for q in microsoft.graph_requests())
    assert len(microsoft.graph_requests()) == 3  # user + inbox, one of them twice


async def test_an_outage_for_one_mailbox_is_graph_unavailable_for_it_only(
    user: ApiUser, credential: dict[str, Any], microsoft: SandboxMicrosoft
) -> None:
    microsoft.add_user("pam@example.com")
    microsoft.fail_user("pam@example.com", 503)
    status, items = await _results(user, _body(credential, "jim@example.com", "pam@example.com"))
    assert status == 207
    assert _errors(items) == [None, "GRAPH_UNAVAILABLE"]


async def test_a_full_outage_is_207_not_500(
    user: ApiUser, credential: dict[str, Any], microsoft: SandboxMicrosoft, runtime: Runtime
) -> None:
    microsoft.outage = True
    microsoft.outage_retry_after = 0
    status, items = await _results(user, _body(credential, "jim@example.com", "pam@example.com"))
    assert (status, _errors(items)) == (207, ["GRAPH_UNAVAILABLE"] * 2)
    microsoft.outage = False
    microsoft.add_tenant("fresh.example", "fresh-app", "fresh-secret")
    fresh = await create_credential(  # no token cached for this app yet
        user, tenant_id="fresh.example", client_id="fresh-app", client_secret="fresh-secret"
    )
    microsoft.fail_next(3, 503, retry_after=0, where="token")
    body = _body(fresh, "jim@example.com")
    status, items = await _results(user, body)
    assert (status, _errors(items)) == (207, ["GRAPH_UNAVAILABLE"])
    assert await _mailbox_count(runtime) == 0


async def test_one_token_per_batch(
    user: ApiUser, credential: dict[str, Any], microsoft: SandboxMicrosoft
) -> None:
    emails = [f"user{i}@example.com" for i in range(12)]
    for email in emails:
        microsoft.add_user(email)
    status, _ = await _results(user, _body(credential, *emails))
    assert status == 201
    assert len(microsoft.token_requests()) == 2  # the credential's check, then the batch's
    await _results(user, _body(credential, "jim@example.com"))
    assert len(microsoft.token_requests()) == 2  # cached


async def test_deliverability_per_domain(
    user: ApiUser, credential: dict[str, Any], microsoft: SandboxMicrosoft
) -> None:
    for email in ("a@spf-only.example", "b@bare.example", "c@nowhere.example"):
        microsoft.add_user(email)
    _, items = await _results(
        user,
        _body(
            credential,
            "jim@example.com",
            "a@spf-only.example",
            "b@bare.example",
            "c@nowhere.example",
        ),
    )
    assert [item["deliverability"] for item in items] == [
        {"spf_correct": True, "dkim_correct": True},
        {"spf_correct": True, "dkim_correct": False},
        {"spf_correct": False, "dkim_correct": False},
        {"spf_correct": False, "dkim_correct": False},
    ]


async def test_a_dns_failure_still_connects_with_false_checks(
    user: ApiUser, credential: dict[str, Any], dns: SandboxDNS
) -> None:
    dns.servfail = True
    status, [item] = await _results(user, _body(credential, "jim@example.com"))
    assert (status, item["deliverability"]) == (201, {"spf_correct": False, "dkim_correct": False})


async def test_a_large_batch_respects_the_mailbox_limit(
    user: ApiUser, credential: dict[str, Any], microsoft: SandboxMicrosoft
) -> None:
    emails = [f"bulk{i}@example.com" for i in range(60)]
    for email in emails:
        microsoft.add_user(email)
    microsoft.latency = 0.05
    status, items = await _results(user, _body(credential, *emails))
    assert status == 201
    assert len({item["id"] for item in items}) == 60
    assert max(microsoft.peak_concurrency.values()) <= 4
    assert len(microsoft.graph_requests()) == 120  # nothing throttled


async def test_two_requests_racing_for_one_address(
    user: ApiUser, credential: dict[str, Any], microsoft: SandboxMicrosoft, runtime: Runtime
) -> None:
    microsoft.latency = 0.2  # both pass the "already connected" check before either stores
    body = _body(credential, "jim@example.com")
    first, second = await asyncio.gather(bulk(user, body), bulk(user, body))
    assert sorted([first.status_code, second.status_code]) == [201, 207]
    loser = first if first.status_code == 207 else second
    assert _errors(loser.json()) == ["ALREADY_CONNECTED"]
    assert await _mailbox_count(runtime) == 1


@pytest.mark.parametrize("name", [None, "  "])
async def test_without_a_display_name_graph_supplies_it(
    user: ApiUser, credential: dict[str, Any], name: str | None
) -> None:
    body = {
        "credential_id": credential["credential_id"],
        "accounts": [{"mailbox_email": "jim@example.com", "display_name": name}],
    }
    _, [item] = await _results(user, body)
    assert item["name"] == "Jim Halpert"
