"""POST /rest/v2/mailboxes/manual_connection/bulk: the seed's examples and every 400 message."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from tests.fixtures.app import ApiUser
from tests.server.mailbox.conftest import BULK, finished

SEED_ALL_FIELDS: dict[str, Any] = {
    "mailboxes": [
        {
            "smtp_email": "smtp@mail.com",
            "smtp_login": "smtp-username",
            "smtp_password": "secret-smtp-password",
            "smtp_server": "smtp.server.io",
            "smtp_port": 465,
            "smtp_from_name": "smtp-from-name",
            "imap_email": "imap@mail.com",
            "imap_password": "secret-imap-password",
            "imap_server": "imap.server.io",
            "imap_port": 993,
            "footer": "<div>Best regards,</div><div>John</div>",
            "bcc": "email-to@bcc.com",
            "open_tracking_domain": "open-domain.com",
            "click_tracking_domain": "click-domain.com",
            "unsubscribe_tracking_domain": "unsubscribe-domain.com",
            "sending_wait_time_from": 10,
            "sending_wait_time_to": 20,
            "daily_sending_limit": 100,
        }
    ],
    "completion_notification_types": ["MAIL", "IN_APP"],
}
SEED_REQUIRED_ONLY: dict[str, Any] = {
    "mailboxes": [
        {
            "smtp_email": "jared@getpiedpiper.com",
            "smtp_password": "secret-smtp-password",
            "smtp_server": "smtp.server.io",
            "smtp_port": 465,
            "imap_email": "jared@getpiedpiper.com",
            "imap_password": "secret-imap-password",
            "imap_server": "imap.server.io",
            "imap_port": 993,
        }
    ]
}
SEED_400 = {
    "code": "VALIDATION_FAILURE",
    "details": [
        "mailbox[0].smtp_password must not be blank",
        "mailbox[0].imap_port must be provided and in range <1,65535>",
        "mailbox[0].sending_wait_time_from if provided must be present along with and lower "
        "than sending_wait_time_to and be in range <10,9999>",
        "mailbox[0].sending_wait_time_to if provided must be present along with and higher "
        "than sending_wait_time_from and be in range <20,9999>",
        "mailbox[0].open_tracking_domain if provided must be a valid domain",
    ],
}
WAIT_FROM = SEED_400["details"][2].removeprefix("mailbox[0].")
WAIT_TO = SEED_400["details"][3].removeprefix("mailbox[0].")


def required(**changes: Any) -> dict[str, Any]:
    body = copy.deepcopy(SEED_REQUIRED_ONLY)
    entry = body["mailboxes"][0]
    for key, value in changes.items():
        if value is ...:
            entry.pop(key)
        else:
            entry[key] = value
    return body


async def details_for(user: ApiUser, body: Any) -> list[str]:
    response = await user.client.post(BULK, json=body)
    assert response.status_code == 400, response.text
    payload = response.json()
    assert payload["code"] == "VALIDATION_FAILURE"
    assert set(payload) == {"code", "details"}
    return list(payload["details"])


@pytest.mark.parametrize("seed", [SEED_ALL_FIELDS, SEED_REQUIRED_ONLY], ids=["all", "required"])
async def test_the_seed_requests_are_accepted(user: ApiUser, seed: dict[str, Any]) -> None:
    raw = json.dumps(seed, indent=0).encode()  # sent as written, with Content-Type JSON
    response = await user.client.post(
        BULK, content=raw, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 202
    assert list(response.json()) == ["batch_id"]
    assert isinstance(response.json()["batch_id"], int)
    await finished(user.client, response.json()["batch_id"])  # verification: test_verification


async def test_the_seed_400_body_byte_for_byte(user: ApiUser) -> None:
    body = required(
        smtp_password="",
        imap_port=0,
        sending_wait_time_from=30,
        sending_wait_time_to=20,
        open_tracking_domain="not a domain",
    )
    response = await user.client.post(BULK, json=body)
    assert response.status_code == 400
    assert response.content == json.dumps(SEED_400, separators=(",", ":")).encode()


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"smtp_email": ...}, "smtp_email must be a valid email address"),
        ({"smtp_email": "not-an-email"}, "smtp_email must be a valid email address"),
        ({"smtp_email": 42}, "smtp_email must be a valid email address"),
        ({"smtp_login": " "}, "smtp_login if provided must not be blank"),
        ({"smtp_login": 7}, "smtp_login if provided must not be blank"),
        ({"smtp_password": ...}, "smtp_password must not be blank"),
        ({"smtp_password": "   "}, "smtp_password must not be blank"),
        ({"smtp_password": ["x"]}, "smtp_password must not be blank"),
        ({"smtp_server": ...}, "smtp_server must not be blank"),
        ({"smtp_server": ""}, "smtp_server must not be blank"),
        ({"smtp_server": "x" * 256}, "smtp_server must be at most 255 characters"),
        ({"smtp_port": ...}, "smtp_port must be provided and in range <1,65535>"),
        ({"smtp_port": 65536}, "smtp_port must be provided and in range <1,65535>"),
        ({"smtp_port": "465"}, "smtp_port must be provided and in range <1,65535>"),
        ({"smtp_port": 465.5}, "smtp_port must be provided and in range <1,65535>"),
        ({"smtp_port": True}, "smtp_port must be provided and in range <1,65535>"),
        ({"smtp_from_name": ""}, "smtp_from_name if provided must not be blank"),
        ({"smtp_from_name": "n" * 201}, "smtp_from_name must be at most 200 characters"),
        ({"imap_email": "a@"}, "imap_email must be a valid email address"),
        ({"imap_password": ""}, "imap_password must not be blank"),
        ({"imap_server": None}, "imap_server must not be blank"),
        ({"imap_port": -1}, "imap_port must be provided and in range <1,65535>"),
        ({"footer": " \n"}, "footer if provided must not be blank"),
        ({"bcc": "crm"}, "bcc if provided must be a valid email address"),
        (
            {"open_tracking_domain": "localhost"},
            "open_tracking_domain if provided must be a valid domain",
        ),
        (
            {"click_tracking_domain": "-bad-.com"},
            "click_tracking_domain if provided must be a valid domain",
        ),
        (
            {"unsubscribe_tracking_domain": 5},
            "unsubscribe_tracking_domain if provided must be a valid domain",
        ),
        ({"daily_sending_limit": 0}, "daily_sending_limit if provided must be in range <1,5500>"),
        (
            {"daily_sending_limit": 5501},
            "daily_sending_limit if provided must be in range <1,5500>",
        ),
        (
            {"daily_sending_limit": "10"},
            "daily_sending_limit if provided must be in range <1,5500>",
        ),
    ],
)
async def test_one_message_per_field(user: ApiUser, changes: dict[str, Any], expected: str) -> None:
    assert await details_for(user, required(**changes)) == [f"mailbox[0].{expected}"]


@pytest.mark.parametrize(
    ("wait_from", "wait_to", "expected"),
    [
        (15, None, [WAIT_FROM, WAIT_TO]),  # one without the other
        (None, 30, [WAIT_FROM, WAIT_TO]),
        (30, 30, [WAIT_FROM, WAIT_TO]),  # from must be lower
        (9, 30, [WAIT_FROM]),  # from out of range
        (15, 10000, [WAIT_TO]),  # to out of range
        ("15", 30, [WAIT_FROM]),  # wrong type
    ],
)
async def test_wait_times_come_together_and_in_order(
    user: ApiUser, wait_from: Any, wait_to: Any, expected: list[str]
) -> None:
    body = required(sending_wait_time_from=wait_from, sending_wait_time_to=wait_to)
    if wait_from is None:
        body["mailboxes"][0].pop("sending_wait_time_from")
    if wait_to is None:
        body["mailboxes"][0].pop("sending_wait_time_to")
    assert await details_for(user, body) == [f"mailbox[0].{m}" for m in expected]


async def test_every_problem_of_every_mailbox_is_listed_with_its_index(user: ApiUser) -> None:
    body = required()
    body["mailboxes"].append({**body["mailboxes"][0], "smtp_port": 0, "bcc": "nope"})
    body["mailboxes"].append("not an object")
    assert await details_for(user, body) == [
        "mailbox[1].smtp_port must be provided and in range <1,65535>",
        "mailbox[1].bcc if provided must be a valid email address",
        "mailbox[2] must be an object",
    ]


@pytest.mark.parametrize(
    "mailboxes", [[], None, "x", {"smtp_email": "a@b.co"}], ids=["empty", "null", "str", "obj"]
)
async def test_the_mailbox_list_must_hold_1_to_200(user: ApiUser, mailboxes: Any) -> None:
    assert await details_for(user, {"mailboxes": mailboxes}) == [
        "mailboxes must contain between 1 and 200 mailboxes"
    ]


async def test_more_than_200_mailboxes_is_one_clear_message(user: ApiUser) -> None:
    entry = SEED_REQUIRED_ONLY["mailboxes"][0]
    body = {"mailboxes": [dict(entry, smtp_email=f"m{i}@example.com") for i in range(201)]}
    assert await details_for(user, body) == ["mailboxes must contain between 1 and 200 mailboxes"]


async def test_unknown_notification_types(user: ApiUser) -> None:
    assert await details_for(
        user, dict(required(), completion_notification_types=["MAIL", "SMS", 3])
    ) == [
        "completion_notification_types[1] must be one of MAIL, IN_APP",
        "completion_notification_types[2] must be one of MAIL, IN_APP",
    ]
    assert await details_for(user, dict(required(), completion_notification_types="MAIL")) == [
        "completion_notification_types if provided must be a list of MAIL, IN_APP"
    ]


@pytest.mark.parametrize("raw", [b"{", b"", b"\xff\xfe", b'{"mailboxes": [}'])
async def test_malformed_json_is_unknown(user: ApiUser, raw: bytes) -> None:
    response = await user.client.post(
        BULK, content=raw, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400
    assert response.json() == {"code": "UNKNOWN", "details": ["Malformed JSON request body"]}


async def test_a_body_that_is_not_an_object(user: ApiUser) -> None:
    assert await details_for(user, [SEED_REQUIRED_ONLY]) == [
        "request body must be a JSON object with a mailboxes array"
    ]


async def test_a_bad_key_is_a_problem_401_before_the_body_is_read(anonymous: Any) -> None:
    response = await anonymous.post(BULK, content=b"{", headers={"x-api-key": "nope"})
    assert response.status_code == 401
    body = response.json()
    assert (body["title"], body["status"], body["detail"]) == (
        "Unauthorized",
        401,
        "Invalid api key",
    )


async def test_the_openapi_document_has_the_request_schema_and_every_status(
    user: ApiUser,
) -> None:
    document = (await user.client.get("/openapi.json")).json()
    operation = document["paths"][BULK]["post"]
    schema = operation["requestBody"]["content"]["application/json"]["schema"]
    assert schema["required"] == ["mailboxes"]
    item = schema["properties"]["mailboxes"]["items"]
    assert {"smtp_email", "smtp_password", "imap_port", "daily_sending_limit"} <= set(
        item["properties"]
    )
    assert item["properties"]["smtp_password"]["writeOnly"] is True
    assert {"202", "400", "401", "404", "409", "500"} <= set(operation["responses"])


async def test_emails_are_stored_lower_case(user: ApiUser) -> None:
    body = required(smtp_email="Jared@GetPiedPiper.COM", imap_email=" JARED@getpiedpiper.com ")
    response = await user.client.post(BULK, json=body)
    assert response.status_code == 202
    again = required(smtp_email="jared@getpiedpiper.com")
    assert (await user.client.post(BULK, json=again)).status_code == 409  # same, any case
    result = await finished(user.client, response.json()["batch_id"])
    [failed] = result["failed_mailboxes"]
    assert (failed["smtp_email"], failed["imap_email"]) == ("jared@getpiedpiper.com",) * 2
