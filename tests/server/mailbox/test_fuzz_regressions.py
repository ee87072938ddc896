"""Inputs the schemathesis fuzz test found that used to make the server fail."""

from __future__ import annotations

from tests.fixtures.app import ApiUser
from tests.server.mailbox.conftest import BULK


async def test_notification_types_of_any_json_type_are_a_validation_failure(user: ApiUser) -> None:
    entry = {
        "imap_email": "0@0.com",
        "imap_password": "x",
        "imap_port": 1,
        "imap_server": "0",
        "smtp_email": "0@0.com",
        "smtp_password": "x",
        "smtp_port": 1,
        "smtp_server": "0",
    }
    body = {"mailboxes": [entry], "completion_notification_types": [{}, ["MAIL"], 5, "MAIL"]}
    response = await user.client.post(BULK, json=body)
    assert response.status_code == 400
    details = response.json()["details"]
    for index in range(3):
        assert any(
            d.startswith(f"completion_notification_types[{index}] must be one of") for d in details
        )
    assert not any(d.startswith("completion_notification_types[3]") for d in details)
