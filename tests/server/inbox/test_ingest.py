"""Parsing fetched mail into what Perch stores."""

from __future__ import annotations

from perch.server.inbox.ingest import dedupe_key, parse

REPLY = (
    b"From: Richard Hendricks <Richard@Hooli.example>\r\n"
    b"Reply-To: deals@hooli.example\r\n"
    b"To: Jared <jared@piedpiper.example>\r\nCc: gavin@hooli.example, Big Head <bh@hooli.example>\r\n"
    b"Subject: Re: our call\r\nDate: Fri, 20 Nov 2026 09:30:00 +0100\r\n"
    b"Message-ID: <r1@hooli.example>\r\nIn-Reply-To: <o1@piedpiper.example>\r\n"
    b"References: <o0@piedpiper.example> <o1@piedpiper.example>\r\n"
    b"MIME-Version: 1.0\r\nContent-Type: multipart/alternative; boundary=x\r\n\r\n"
    b"--x\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nTuesday works.\r\n"
    b"--x\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<p>Tuesday works.</p>\r\n--x--\r\n"
)


def test_a_reply_is_parsed_completely() -> None:
    parsed = parse(REPLY, mailbox_email="jared@piedpiper.example", own_message_ids=set())
    assert parsed.message_id == "<r1@hooli.example>"
    assert parsed.in_reply_to == "<o1@piedpiper.example>"
    assert parsed.references == "<o0@piedpiper.example> <o1@piedpiper.example>"
    assert (parsed.from_email, parsed.from_name) == ("richard@hooli.example", "Richard Hendricks")
    assert parsed.reply_to == "deals@hooli.example"
    assert parsed.to == "jared@piedpiper.example"
    assert parsed.cc == "gavin@hooli.example, bh@hooli.example"
    assert parsed.subject == "Re: our call"
    assert (
        parsed.sent_at is not None
        and parsed.sent_at.utcoffset() is not None
        and parsed.sent_at.hour == 9
    )
    assert parsed.body_text.strip() == "Tuesday works."  # type: ignore[union-attr]
    assert parsed.body_html.strip() == "<p>Tuesday works.</p>"  # type: ignore[union-attr]
    assert parsed.verdict.classification == "HUMAN_REPLY"


def test_html_only_mail_gets_a_text_body() -> None:
    raw = b"From: a@example.com\r\nSubject: hi\r\nContent-Type: text/html\r\n\r\n<p>Hello<br>there</p>\r\n"
    parsed = parse(raw, mailbox_email="b@example.com", own_message_ids=set())
    assert parsed.body_text == "Hello\nthere"
    assert parsed.message_id is None


def test_broken_headers_do_not_break_ingestion() -> None:
    raw = b"From: =?utf-8?q?broken\r\nDate: yesterday-ish\r\nTo: <<<>>>\r\nSubject: \xff\xfe\r\n\r\nbody\r\n"
    parsed = parse(raw, mailbox_email="b@example.com", own_message_ids=set())
    assert parsed.sent_at is None
    assert parsed.body_text is not None


def test_dedupe_key_is_stable_and_case_insensitive() -> None:
    assert dedupe_key("<A@x>", b"1") == dedupe_key("<a@x>", b"2")
    assert dedupe_key(None, b"raw") == dedupe_key(None, b"raw") != dedupe_key(None, b"other")
    assert len(dedupe_key(None, b"raw")) <= 128


def test_encoded_words_are_decoded_for_storage_and_classification() -> None:
    raw = (
        b"From: =?utf-8?q?J=C3=BCrgen_M=C3=BCller?= <juergen@example.de>\r\n"
        b"Subject: =?utf-8?q?Abwesenheitsnotiz=3A_Re=3A_Anruf?=\r\nMessage-ID: <x1@example.de>\r\n"
        b"Content-Type: text/plain; charset=iso-8859-1\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n"
        b"Ich bin bis Montag nicht im B=FCro.\r\n"
    )
    parsed = parse(raw, mailbox_email="b@example.com", own_message_ids=set())
    assert parsed.from_name == "Jürgen Müller"
    assert parsed.subject == "Abwesenheitsnotiz: Re: Anruf"
    assert parsed.body_text is not None and "Büro" in parsed.body_text
    assert (parsed.verdict.classification, parsed.verdict.rule) == (
        "AUTO_REPLY",
        "subject:out-of-office",
    )
