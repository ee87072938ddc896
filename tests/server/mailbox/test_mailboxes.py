"""GET /rest/v2/mailboxes, GET and PATCH /rest/v2/mailboxes/{id}."""

from __future__ import annotations

from typing import Any

import pytest

from perch.server.runtime import Runtime
from tests.fixtures.app import ApiUser
from tests.server.mailbox import factories

LIST = "/rest/v2/mailboxes"


async def test_an_empty_account_lists_nothing(user: ApiUser) -> None:
    response = await user.client.get(LIST)
    assert (response.status_code, response.json()) == (200, [])


async def test_each_mailbox_is_an_smtp_and_an_imap_record(user: ApiUser, runtime: Runtime) -> None:
    smtp_id, imap_id = await factories.custom_mailbox(
        runtime,
        user.account.id,
        "jared@getpiedpiper.com",
        smtp_id=456789,
        imap_id=456790,
        smtp_login="jared",
        from_name="Jared",
        footer="<div>Best</div>",
        bcc="crm@getpiedpiper.com",
        open_tracking_domain="open.getpiedpiper.com",
        click_tracking_domain="click.getpiedpiper.com",
        unsubscribe_tracking_domain="unsub.getpiedpiper.com",
        sending_wait_time_from=300,
        sending_wait_time_to=600,
        daily_limit=100,
    )
    assert (await user.client.get(LIST)).json() == [
        {
            "id": 456789,
            "type": "SMTP",
            "details": {
                "email": "jared@getpiedpiper.com",
                "provider": "CUSTOM",
                "login": "jared",
                "server": "smtp.example.com",
                "port": 587,
                "from_name": "Jared",
                "error": None,
                "imap_id": 456790,
                "daily_limit": 100,
                "sent_today": 0,
                "frequency_from": 300000,
                "frequency_to": 600000,
                "bcc_crm": "crm@getpiedpiper.com",
                "signature": "<div>Best</div>",
                "open_url": "open.getpiedpiper.com",
                "click_url": "click.getpiedpiper.com",
                "unsubscribe_url": "unsub.getpiedpiper.com",
                "freeze_account": [],
                "in_slot": True,
                "warmup_data": {"status": "DISABLED"},
            },
        },
        {
            "id": 456790,
            "type": "IMAP",
            "details": {
                "email": "jared@getpiedpiper.com",
                "provider": "CUSTOM",
                "login": "jared@getpiedpiper.com",
                "server": "imap.example.com",
                "port": 993,
                "private": False,
                "error": None,
                "last_synced": None,
            },
        },
    ]
    assert (smtp_id, imap_id) == (456789, 456790)


async def test_microsoft_mailboxes_list_with_the_graph_host(
    user: ApiUser, runtime: Runtime
) -> None:
    smtp_id, imap_id = await factories.microsoft_mailbox(runtime, user.account.id, "ms@contoso.com")
    records = {r["type"]: r for r in (await user.client.get(LIST)).json()}
    assert records["SMTP"]["id"] == smtp_id
    smtp, imap = records["SMTP"]["details"], records["IMAP"]["details"]
    assert (smtp["provider"], smtp["server"], smtp["port"], smtp["login"]) == (
        "MICROSOFT",
        "graph.microsoft.com",
        443,
        "ms@contoso.com",
    )
    assert smtp["imap_id"] == imap_id and smtp["from_name"] == "Jared Dunn"
    assert (imap["server"], imap["port"], imap["login"]) == (
        "graph.microsoft.com",
        443,
        "ms@contoso.com",
    )


async def test_get_by_smtp_id_and_by_imap_id(user: ApiUser, runtime: Runtime) -> None:
    smtp_id, imap_id = await factories.custom_mailbox(
        runtime, user.account.id, "a@example.com", smtp_id=10, imap_id=20
    )
    smtp = (await user.client.get(f"{LIST}/{smtp_id}")).json()
    imap = (await user.client.get(f"{LIST}/{imap_id}")).json()
    assert (smtp["type"], smtp["id"], smtp["details"]["imap_id"]) == ("SMTP", 10, 20)
    assert (imap["type"], imap["id"], imap["details"]["server"]) == ("IMAP", 20, "imap.example.com")


@pytest.mark.parametrize("path", ["999999", str(2**63 + 5), "0", "abc"])
async def test_get_unknown_is_404(user: ApiUser, path: str) -> None:
    response = await user.client.get(f"{LIST}/{path}")
    assert response.status_code == 404
    assert response.json()["detail"] == "Requested resource does not exist"


async def test_no_password_in_any_response(user: ApiUser, runtime: Runtime) -> None:
    smtp_id, imap_id = await factories.custom_mailbox(runtime, user.account.id, "a@example.com")
    for path in (LIST, f"{LIST}/{smtp_id}", f"{LIST}/{imap_id}"):
        text = (await user.client.get(path)).text
        assert "secret" not in text and "password" not in text


async def test_patch_sets_and_removes_the_footer(user: ApiUser, runtime: Runtime) -> None:
    smtp_id, _ = await factories.custom_mailbox(runtime, user.account.id, "a@example.com")

    async def signature() -> Any:
        return (await user.client.get(f"{LIST}/{smtp_id}")).json()["details"]["signature"]

    response = await user.client.patch(f"{LIST}/{smtp_id}", json={"footer": "<b>Hi</b>"})
    assert (response.status_code, response.content) == (200, b"")
    assert await signature() == "<b>Hi</b>"
    for removal in (None, ""):
        await user.client.patch(f"{LIST}/{smtp_id}", json={"footer": "x"})
        assert (
            await user.client.patch(f"{LIST}/{smtp_id}", json={"footer": removal})
        ).status_code == 200
        assert await signature() is None


async def test_patch_needs_an_smtp_id_and_a_footer(user: ApiUser, runtime: Runtime) -> None:
    smtp_id, imap_id = await factories.custom_mailbox(
        runtime, user.account.id, "a@example.com", smtp_id=10, imap_id=20
    )
    for mailbox_id in (imap_id, 999):
        response = await user.client.patch(f"{LIST}/{mailbox_id}", json={"footer": "x"})
        assert response.status_code == 404
        assert response.json()["title"] == "Not Found"
    for body in ({}, {"footer": 5}, [1]):
        response = await user.client.patch(f"{LIST}/{smtp_id}", json=body)
        assert response.status_code == 400
        assert response.json()["title"] == "Bad Request"


async def test_other_accounts_mailboxes_are_not_listed(
    user: ApiUser, other_user: ApiUser, runtime: Runtime
) -> None:
    await factories.custom_mailbox(runtime, user.account.id, "a@example.com")
    assert (await other_user.client.get(LIST)).json() == []
