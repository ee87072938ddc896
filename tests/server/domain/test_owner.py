"""GET/POST /rest/v2/domains/owner: the registrant contact, replaced as a whole."""

from __future__ import annotations

from typing import Any

import pytest

from tests.fixtures.app import ApiUser
from tests.server.domain.helpers import OWNER, assert_fields

PATH = "/rest/v2/domains/owner"
CONTACT = [k for k in OWNER if k != "configuration"]


async def test_all_null_until_saved(user: ApiUser) -> None:
    response = await user.client.get(PATH)
    assert response.json() == {
        **dict.fromkeys(CONTACT),
        "configuration": {
            "default_domain_redirect_url": None,
            "default_email_forward_address": None,
        },
    }


async def test_save_and_read_back(user: ApiUser) -> None:
    saved = await user.client.post(PATH, json=OWNER)
    assert saved.status_code == 200
    expected = {
        **{k: OWNER[k] for k in CONTACT},
        "configuration": {
            "default_domain_redirect_url": "https://piedpiper.com",
            "default_email_forward_address": None,  # "" removes it
        },
    }
    assert saved.json() == expected
    assert (await user.client.get(PATH)).json() == expected


async def test_the_whole_object_is_replaced(user: ApiUser, other_user: ApiUser) -> None:
    await user.client.post(PATH, json=OWNER)
    smaller = {k: v for k, v in OWNER.items() if k not in ("company_name", "configuration")}
    replaced = (await user.client.post(PATH, json=smaller | {"city": "Menlo Park"})).json()
    assert replaced["company_name"] is None and replaced["city"] == "Menlo Park"
    assert replaced["configuration"]["default_domain_redirect_url"] is None
    assert (await other_user.client.get(PATH)).json()["email"] is None


async def test_required_fields(user: ApiUser) -> None:
    response = await user.client.post(PATH, json={"email": "richard@piedpiper.com", "city": " "})
    assert_fields(
        response,
        ("first_name", "is required", None),
        ("last_name", "is required", None),
        ("address", "is required", None),
        ("city", "must not be empty", " "),
        ("state", "is required", None),
        ("country", "is required", None),
        ("zip_code", "is required", None),
        ("phone", "is required", None),
    )


@pytest.mark.parametrize(
    ("change", "field", "issue"),
    [
        ({"email": "richard"}, "email", "must be a valid email address"),
        ({"phone": "call me"}, "phone", "must be a valid phone number"),
        ({"phone": "+1 23"}, "phone", "must be a valid phone number"),
        ({"zip_code": "94303!"}, "zip_code", "must be a valid postal code"),
        ({"first_name": "R" * 101}, "first_name", "must be at most 100 characters"),
        (
            {"configuration": {"default_domain_redirect_url": "ftp://x"}},
            "configuration.default_domain_redirect_url",
            "must start with http:// or https://",
        ),
        (
            {"configuration": {"default_email_forward_address": "nobody"}},
            "configuration.default_email_forward_address",
            "must be a valid email address",
        ),
    ],
)
async def test_invalid_values(
    user: ApiUser, change: dict[str, Any], field: str, issue: str
) -> None:
    response = await user.client.post(PATH, json=OWNER | change)
    [value] = [v for v in [*change.values()]]
    shown = next(iter(value.values())) if isinstance(value, dict) else value
    assert_fields(response, (field, issue, shown))


async def test_wrong_types_are_422_too(user: ApiUser) -> None:
    response = await user.client.post(PATH, json=OWNER | {"zip_code": 94303})
    assert response.status_code == 422
    assert response.json()["fields"][0]["field"] == "zip_code"


async def test_concurrent_saves_never_fail_the_server(user: ApiUser) -> None:
    import asyncio

    responses = await asyncio.gather(*(user.client.post(PATH, json=OWNER) for _ in range(6)))
    statuses = {r.status_code for r in responses}
    assert statuses <= {200, 409} and 200 in statuses
    for response in responses:
        if response.status_code == 409:
            assert response.json()["title"] == "Conflict"
