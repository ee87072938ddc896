"""Reply composition: subject, threading headers, text part, quoting, no Bcc header."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from perch.server.inbox.compose import (
    Original,
    Reply,
    build_reply,
    html_to_text,
    reply_subject,
    thread_references,
)

ORIGINAL = Original(
    message_id="<m2@hooli.test>",
    references="<m0@piedpiper.test> <m1@hooli.test>",
    subject="Our call",
    sender="Richard <richard@hooli.test>",
    date=datetime(2026, 11, 20, 9, 30, tzinfo=UTC),
    html="<p>Can we talk <b>Tuesday</b>?</p>",
    text="Can we talk Tuesday?",
)


@pytest.mark.parametrize(
    ("subject", "expected"),
    [
        ("Our call", "Re: Our call"),
        ("Re: Our call", "Re: Our call"),
        ("RE: x", "RE: x"),
        ("re:x", "re:x"),
        ("", "Re:"),
        (None, "Re:"),
    ],
)
def test_reply_subject(subject: str | None, expected: str) -> None:
    assert reply_subject(subject) == expected


def test_references_keep_the_chain_and_add_the_original() -> None:
    assert thread_references("<a@x> <b@x>", "<c@x>") == "<a@x> <b@x> <c@x>"
    assert thread_references(None, "<c@x>") == "<c@x>"
    assert thread_references("<a@x> <c@x>", "<c@x>") == "<a@x> <c@x>"
    long = " ".join(f"<{i}@x>" for i in range(40))
    trimmed = thread_references(long, "<new@x>").split()
    assert trimmed[0] == "<0@x>" and trimmed[-1] == "<new@x>" and len(trimmed) == 20


def test_html_to_text() -> None:
    html = '<html><head><style>p{}</style></head><body><p>Hi&nbsp;Richard,</p><p>See <a href="https://pp.test/x">this</a><br>Thanks</p><ul><li>one</li><li>two</li></ul><script>x()</script></body></html>'
    assert (
        html_to_text(html) == "Hi Richard,\n\nSee this (https://pp.test/x)\nThanks\n\n- one\n- two"
    )


def test_build_reply_threads_and_has_both_parts() -> None:
    reply = Reply(
        from_email="jared@piedpiper.test",
        from_name="Jared Dunn",
        to=["richard@hooli.test"],
        cc=["gavin@hooli.test"],
        html="<p>Tuesday works.</p>",
    )
    message = build_reply(reply, ORIGINAL, now=datetime(2026, 11, 21, tzinfo=UTC))
    assert message["In-Reply-To"] == "<m2@hooli.test>"
    assert message["References"] == "<m0@piedpiper.test> <m1@hooli.test> <m2@hooli.test>"
    assert message["Subject"] == "Re: Our call"
    assert message["From"] == "Jared Dunn <jared@piedpiper.test>"
    assert message["Cc"] == "gavin@hooli.test" and message["Bcc"] is None
    assert (
        message["Message-ID"].endswith("@piedpiper.test>")
        and message["Message-ID"] != ORIGINAL.message_id
    )
    assert message.get_content_type() == "multipart/alternative"
    text, html = (part.get_content() for part in message.iter_parts())
    assert text.strip() == "Tuesday works." and "<p>Tuesday works.</p>" in html


def test_quote_original_below_the_reply() -> None:
    reply = Reply(
        from_email="jared@piedpiper.test",
        from_name=None,
        to=["richard@hooli.test"],
        html="<p>Yes.</p>",
        quote_original=True,
    )
    message = build_reply(reply, ORIGINAL, now=datetime(2026, 11, 21, tzinfo=UTC))
    text, html = (part.get_content() for part in message.iter_parts())
    assert "> Can we talk Tuesday?" in text and text.index("Yes.") < text.index("> Can we talk")
    assert "<blockquote" in html and "<b>Tuesday</b>" in html
