"""Completion notifications: the in-app list, and mails through the system SMTP account."""

from __future__ import annotations

from typing import Any

import pytest

from perch.sandbox import SandboxSMTP
from perch.server.notification import service as notification_service
from perch.server.runtime import Runtime
from tests.fixtures.app import ApiUser
from tests.server.notification.conftest import SYSTEM_SENDER, finished_batch

LIST = "/rest/v2/notifications"
RECIPIENT = "ops@getpiedpiper.com"


async def set_address(runtime: Runtime, user: ApiUser, email: str | None = RECIPIENT) -> None:
    async with runtime.session() as session:
        await notification_service.set_notification_email(session, user.account.name, email)


@pytest.mark.notify_smtp("none")
async def test_in_app_notifications_newest_first_and_per_account(
    user: ApiUser, other_user: ApiUser
) -> None:
    first = await finished_batch(user.client, ["IN_APP"])
    second = await finished_batch(user.client, ["IN_APP"])
    await finished_batch(user.client, [])  # asked for nothing: no notification
    listed = (await user.client.get(LIST)).json()["notifications"]
    assert [n["batch_id"] for n in listed] == [second["batch_id"], first["batch_id"]]
    newest = listed[0]
    assert set(newest) == {"id", "type", "created", "read", "batch_id", "message"}
    assert newest["type"] == "MAILBOX_BATCH_FINISHED" and newest["read"] is False
    assert newest["message"] == (
        f"Mailbox batch {second['batch_id']} finished: 0 connected, 0 conditionally connected, "
        "1 failed (of 1)."
    )
    assert second["notifications"] == {
        "mail": None,
        "in_app": {"created": True, "notification_id": newest["id"]},
    }
    assert (await user.client.get(LIST, params={"limit": 1})).json()["notifications"] == [newest]
    assert (await other_user.client.get(LIST)).json() == {"notifications": []}


async def test_the_completion_mail_goes_through_the_system_account(
    user: ApiUser, runtime: Runtime, system_smtp: SandboxSMTP
) -> None:
    await set_address(runtime, user)
    summary = await finished_batch(user.client, ["MAIL"])
    assert summary["notifications"]["mail"] == {
        "status": "SENT",
        "sent": True,
        "recipient": RECIPIENT,
        "reason": None,
    }
    [received] = system_smtp.messages
    assert (received.mail_from, received.rcpt_tos) == (SYSTEM_SENDER, [RECIPIENT])
    message = received.message
    assert message["Subject"] == (
        f"Perch: Mailbox batch {summary['batch_id']} finished: 0 connected, "
        "0 conditionally connected, 1 failed (of 1)."
    )
    body = message.get_content()
    assert "mailbox[0] jared@getpiedpiper.com: DNS_NOT_FOUND" in body
    assert "Hint: check the spelling" in body
    assert (await user.client.get(LIST)).json() == {"notifications": []}  # MAIL is not in-app


@pytest.mark.notify_smtp("none")
async def test_without_a_system_account_the_summary_says_why(
    user: ApiUser, runtime: Runtime
) -> None:
    await set_address(runtime, user)
    mail = (await finished_batch(user.client, ["MAIL", "IN_APP"]))["notifications"]["mail"]
    assert (mail["status"], mail["sent"]) == ("NOT_SENT", False)
    assert mail["reason"].startswith("PERCH_NOTIFY_SMTP_URL is not set")


async def test_without_a_notification_address_the_summary_says_why(
    user: ApiUser, system_smtp: SandboxSMTP
) -> None:
    mail = (await finished_batch(user.client, ["MAIL"]))["notifications"]["mail"]
    assert (mail["status"], mail["recipient"]) == ("NOT_SENT", None)
    assert "perch account set-notification-email" in mail["reason"]
    assert system_smtp.messages == []


@pytest.mark.notify_smtp("wrong_password")
async def test_a_refused_system_login_is_reported(
    user: ApiUser, runtime: Runtime, system_smtp: SandboxSMTP
) -> None:
    await set_address(runtime, user)
    mail = (await finished_batch(user.client, ["MAIL"]))["notifications"]["mail"]
    assert mail["status"] == "NOT_SENT"
    assert mail["reason"].startswith("SMTP_AUTH_FAILED: ")
    assert "wrong" not in mail["reason"]


async def test_the_system_servers_certificate_is_verified(
    user: ApiUser, runtime: Runtime, system_smtp: SandboxSMTP
) -> None:
    import ssl

    runtime.ssl_context = ssl.create_default_context()  # without the sandbox CA
    await set_address(runtime, user)
    mail = (await finished_batch(user.client, ["MAIL"]))["notifications"]["mail"]
    assert mail["status"] == "NOT_SENT"
    assert mail["reason"].startswith("SMTP_TLS_FAILED: ")
    assert system_smtp.messages == []


async def test_the_list_needs_a_key(anonymous: Any) -> None:
    response = await anonymous.get(LIST)
    assert response.status_code == 401
    assert response.json()["title"] == "Unauthorized"


async def test_a_bad_limit_is_400(user: ApiUser) -> None:
    response = await user.client.get(LIST, params={"limit": 0})
    assert response.status_code == 400
    assert response.json()["detail"] == "Value of limit is incorrect."


@pytest.mark.notify_smtp("none")
async def test_notifications_are_marked_read_one_or_all(user: ApiUser, other_user: ApiUser) -> None:
    await finished_batch(user.client, ["IN_APP"])
    await finished_batch(user.client, ["IN_APP"])
    await finished_batch(other_user.client, ["IN_APP"])
    newest, oldest = (await user.client.get(LIST)).json()["notifications"]

    response = await user.client.post(f"{LIST}/{oldest['id']}/read")
    assert response.status_code == 200
    assert response.json() == {**oldest, "read": True}
    again = await user.client.post(f"{LIST}/{oldest['id']}/read")  # idempotent
    assert again.status_code == 200 and again.json()["read"] is True
    unread = (await user.client.get(LIST, params={"read": False})).json()["notifications"]
    assert [n["id"] for n in unread] == [newest["id"]]
    read = (await user.client.get(LIST, params={"read": True})).json()["notifications"]
    assert [n["id"] for n in read] == [oldest["id"]]

    assert (await user.client.post(f"{LIST}/read")).json() == {"marked": 1}
    assert (await user.client.post(f"{LIST}/read")).json() == {"marked": 0}
    assert all(n["read"] for n in (await user.client.get(LIST)).json()["notifications"])
    others = (await other_user.client.get(LIST)).json()["notifications"]
    assert [n["read"] for n in others] == [False]  # another account's stay unread


@pytest.mark.notify_smtp("none")
async def test_another_accounts_notification_is_404(user: ApiUser, other_user: ApiUser) -> None:
    await finished_batch(other_user.client, ["IN_APP"])
    (theirs,) = (await other_user.client.get(LIST)).json()["notifications"]
    for notification_id in (theirs["id"], 999_999):
        response = await user.client.post(f"{LIST}/{notification_id}/read")
        assert response.status_code == 404
        assert response.json()["detail"] == "Requested resource does not exist"
    assert (await other_user.client.get(LIST)).json()["notifications"][0]["read"] is False
