"""GET /rest/v2/inbox/messages: filters, cursors, item shape, isolation."""

from __future__ import annotations

from tests.fixtures.app import ApiUser
from tests.server.inbox.conftest import MakeMailbox, MakeMessage


async def test_item_shape_and_default_filter(
    user: ApiUser, make_mailbox: MakeMailbox, make_message: MakeMessage
) -> None:
    mailbox, imap = await make_mailbox(user.account.id, "jared@piedpiper.example")
    reply = await make_message(imap, subject="Re: pricing")
    await make_message(
        imap, classification="OWN_OUTBOUND", classification_rule="message-id:sent-by-perch"
    )
    response = await user.client.get("/rest/v2/inbox/messages")
    assert response.status_code == 200
    body = response.json()
    assert body["pagination"] == {"next_page_cursor": None, "previous_page_cursor": None}
    assert [item["id"] for item in body["content"]] == [reply.id]  # our own mail is not a reply
    item = body["content"][0]
    assert item["subject"] == "Re: pricing"
    assert item["stamp"] == "2026-11-01T00:01:00"
    assert item["body"]["html"] == "<p>reply 1</p>"
    assert item["from"] == {"email": "richard@example.com", "name": "Richard"}
    assert item["mailbox"] == {
        "imap_id": imap.id,
        "smtp_id": mailbox.id,
        "email": "jared@piedpiper.example",
    }
    assert item["mailbox_ids"] == [imap.id]
    assert item["classification"] == {
        "type": "HUMAN_REPLY",
        "prospect_status": "RESPONDED",
        "rule": "default:human",
    }


async def test_prospect_status_read_mailbox_and_search_filters(
    user: ApiUser, make_mailbox: MakeMailbox, make_message: MakeMessage
) -> None:
    _, first = await make_mailbox(user.account.id, "a@piedpiper.example")
    _, second = await make_mailbox(user.account.id, "b@piedpiper.example")
    human = await make_message(first, subject="Re: Tuesday works")
    auto = await make_message(
        first,
        classification="AUTO_REPLY",
        classification_rule="subject:out-of-office",
        subject="Out of office",
    )
    bounce = await make_message(
        second, classification="BOUNCE", classification_rule="dsn:multipart/report", is_read=True
    )

    async def ids(**params: object) -> list[int]:
        response = await user.client.get("/rest/v2/inbox/messages", params=params)
        assert response.status_code == 200, response.text
        return [item["id"] for item in response.json()["content"]]

    assert await ids(prospect_status="RESPONDED") == [human.id]
    assert await ids(prospect_status="AUTOREPLIED") == [auto.id]
    assert await ids(prospect_status="BOUNCED") == [bounce.id]
    assert await ids(prospect_status="BLACKLISTED") == []
    assert await ids(read="true") == [bounce.id]
    assert await ids(read="false") == [auto.id, human.id]
    assert await ids(mailbox_ids=f"{second.id}") == [bounce.id]
    assert await ids(mailbox_ids=f"{first.id},{second.id}") == [bounce.id, auto.id, human.id]
    assert await ids(search_phrases="TUESDAY") == [human.id]
    assert await ids(search_phrases=["tuesday", "office"]) == [auto.id, human.id]
    assert await ids(search_phrases="tuesday,office") == [auto.id, human.id]


async def test_cursors_walk_both_ways(
    user: ApiUser, make_mailbox: MakeMailbox, make_message: MakeMessage
) -> None:
    _, imap = await make_mailbox(user.account.id, "a@piedpiper.example")
    ids = [(await make_message(imap)).id for _ in range(7)][::-1]  # newest first
    first = (await user.client.get("/rest/v2/inbox/messages", params={"per_page": 3})).json()
    assert [m["id"] for m in first["content"]] == ids[0:3]
    assert first["pagination"]["previous_page_cursor"] is None
    second = (
        await user.client.get(
            "/rest/v2/inbox/messages",
            params={"per_page": 3, "next_page_cursor": first["pagination"]["next_page_cursor"]},
        )
    ).json()
    assert [m["id"] for m in second["content"]] == ids[3:6]
    third = (
        await user.client.get(
            "/rest/v2/inbox/messages",
            params={"per_page": 3, "next_page_cursor": second["pagination"]["next_page_cursor"]},
        )
    ).json()
    assert [m["id"] for m in third["content"]] == ids[6:7]
    assert third["pagination"]["next_page_cursor"] is None
    back = (
        await user.client.get(
            "/rest/v2/inbox/messages",
            params={
                "per_page": 3,
                "previous_page_cursor": third["pagination"]["previous_page_cursor"],
            },
        )
    ).json()
    assert [m["id"] for m in back["content"]] == ids[3:6]
    top = (
        await user.client.get(
            "/rest/v2/inbox/messages",
            params={
                "per_page": 3,
                "previous_page_cursor": back["pagination"]["previous_page_cursor"],
            },
        )
    ).json()
    assert [m["id"] for m in top["content"]] == ids[0:3]
    assert top["pagination"]["previous_page_cursor"] is None


async def test_bad_parameters_are_400(
    user: ApiUser, make_mailbox: MakeMailbox, make_message: MakeMessage
) -> None:
    _, imap = await make_mailbox(user.account.id, "a@piedpiper.example")
    for _ in range(3):
        await make_message(imap)
    page = (await user.client.get("/rest/v2/inbox/messages", params={"per_page": 1})).json()
    cursor = page["pagination"]["next_page_cursor"]
    cases = [
        ({"per_page": 51}, "Value of per_page is incorrect."),
        ({"per_page": 0}, "Value of per_page is incorrect."),
        ({"prospect_status": "HAPPY"}, "Value of prospect_status is incorrect."),
        ({"mailbox_ids": "1,x"}, "Value of mailbox_ids is incorrect."),
        ({"search_phrases": "ab"}, "Each of search_phrases must be at least 3 characters long"),
        (
            {"search_phrases": [f"word{i}" for i in range(21)]},
            "search_phrases accepts at most 20 phrases",
        ),
        ({"next_page_cursor": "made-up"}, "Value of next_page_cursor is incorrect."),
        ({"next_page_cursor": cursor, "per_page": 2}, "Value of next_page_cursor is incorrect."),
        ({"next_page_cursor": cursor, "read": "true"}, "Value of next_page_cursor is incorrect."),
    ]
    for params, detail in cases:
        response = await user.client.get("/rest/v2/inbox/messages", params=params)
        assert response.status_code == 400, params
        assert response.json()["detail"] == detail, params


async def test_other_accounts_messages_and_mailboxes_are_invisible(
    user: ApiUser, other_user: ApiUser, make_mailbox: MakeMailbox, make_message: MakeMessage
) -> None:
    _, imap = await make_mailbox(user.account.id, "a@piedpiper.example")
    await make_message(imap)
    assert (await other_user.client.get("/rest/v2/inbox/messages")).json()["content"] == []
    response = await other_user.client.get(
        "/rest/v2/inbox/messages", params={"mailbox_ids": str(imap.id)}
    )
    assert response.json()["content"] == []
