"""The reply body, parsed with the seed's exact messages."""

from __future__ import annotations

import json

import pytest

from perch.server.inbox.errors import InvalidReply
from perch.server.inbox.reply_request import parse_reply


def test_the_seed_example_parses() -> None:
    seed = {
        "mailbox_id": 123456,
        "to": "recipient@gmail.com",
        "cc": "cc1@gmail.com,cc2@gmail.com",
        "bcc": "bcc1@gmail.com,bcc2@gmail.com",
        "subject": "Re: Example subject",
        "body": {"html": "<p>Example response here</p>"},
    }
    request = parse_reply(json.dumps(seed).encode())
    assert request.mailbox_id == 123456
    assert request.to == ["recipient@gmail.com"]
    assert request.cc == ["cc1@gmail.com", "cc2@gmail.com"]
    assert request.bcc == ["bcc1@gmail.com", "bcc2@gmail.com"]
    assert (
        request.subject == "Re: Example subject" and request.html == "<p>Example response here</p>"
    )
    minimal = parse_reply(b'{"body": {"html": "<p>Example response here</p>"}}')
    assert (minimal.to, minimal.cc, minimal.bcc, minimal.mailbox_id, minimal.quote_original) == (
        None,
        [],
        None,
        None,
        False,
    )


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        (b"", "Invalid request body"),
        (b"{", "Invalid request body"),
        (b"[]", "Invalid request body"),
        (b"{}", "Invalid request body"),
        (b'{"body": {}}', "Invalid request body"),
        (b'{"body": {"html": 5}}', "Invalid request body"),
        (b'{"body": {"html": "  "}}', "Invalid request body"),
        (b'{"body": "<p>x</p>"}', "Invalid request body"),
        (b'{"body": {"html": "x"}, "mailbox_id": "12"}', "Invalid request body"),
        (b'{"body": {"html": "x"}, "mailbox_id": true}', "Invalid request body"),
        (b'{"body": {"html": "x"}, "quote_original_message": "yes"}', "Invalid request body"),
        (
            b'{"body": {"html": "x"}, "to": "not-an-address"}',
            "Recipient email if provided must be valid email address",
        ),
        (
            b'{"body": {"html": "x"}, "to": "a@example.com,nope"}',
            "Recipient email if provided must be valid email address",
        ),
        (
            b'{"body": {"html": "x"}, "cc": "a@example.com;b@example.com"}',
            "Cc emails if provided must contain comma-separated valid email addresses",
        ),
        (
            b'{"body": {"html": "x"}, "bcc": "bcc1@gmail.com,bcc2"}',
            "Bcc emails if provided must contain comma-separated valid email addresses",
        ),
    ],
)
def test_each_problem_has_its_sentence(body: bytes, detail: str) -> None:
    with pytest.raises(InvalidReply) as caught:
        parse_reply(body)
    assert caught.value.detail == detail
