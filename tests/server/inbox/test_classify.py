"""Every classification rule, and the rule named in the verdict."""

from __future__ import annotations

from email.message import EmailMessage

import pytest

from perch.server.inbox import mime
from perch.server.inbox.classify import Classification, classify

MAILBOX = "jared@piedpiper.test"


def _message(headers: dict[str, str], body: str = "Thanks, sounds good.") -> mime.Part:
    message = EmailMessage()
    message["From"] = "Richard <richard@hooli.test>"
    message["To"] = MAILBOX
    message["Subject"] = "Re: our call"
    message["Message-ID"] = "<abc@hooli.test>"
    for name, value in headers.items():
        del message[name]
        message[name] = value
    message.set_content(body)
    return mime.read(bytes(message))


def _dsn() -> mime.Part:
    raw = (
        b"From: Mail Delivery System <MAILER-DAEMON@mx.hooli.test>\r\n"
        b"To: jared@piedpiper.test\r\nSubject: Undelivered Mail Returned to Sender\r\n"
        b"Message-ID: <dsn1@mx.hooli.test>\r\nMIME-Version: 1.0\r\n"
        b'Content-Type: multipart/report; report-type=delivery-status; boundary="b"\r\n\r\n'
        b"--b\r\nContent-Type: text/plain\r\n\r\nThis is the mail system.\r\n"
        b"--b\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.hooli.test\r\n\r\n"
        b"Final-Recipient: rfc822; gone@hooli.test\r\nAction: failed\r\nStatus: 5.1.1\r\n"
        b"--b--\r\n"
    )
    return mime.read(raw)


@pytest.mark.parametrize(
    ("headers", "expected", "rule"),
    [
        ({}, Classification.human_reply, "default:human"),
        (
            {"Auto-Submitted": "auto-replied"},
            Classification.auto_reply,
            "header:Auto-Submitted=auto-replied",
        ),
        ({"Auto-Submitted": "no"}, Classification.human_reply, "default:human"),
        ({"X-Autoreply": "yes"}, Classification.auto_reply, "header:X-Autoreply"),
        ({"Precedence": "auto_reply"}, Classification.auto_reply, "header:Precedence=auto_reply"),
        (
            {"Subject": "Out of Office: Re: our call"},
            Classification.auto_reply,
            "subject:out-of-office",
        ),
        (
            {"Subject": "Automatic reply: our call"},
            Classification.auto_reply,
            "subject:out-of-office",
        ),
        (
            {"X-Failed-Recipients": "gone@hooli.test"},
            Classification.bounce,
            "header:X-Failed-Recipients",
        ),
        (
            {"From": "postmaster@hooli.test", "Subject": "Delivery Status Notification (Failure)"},
            Classification.bounce,
            "sender:mailer-daemon",
        ),
        (
            {"From": f"Jared <{MAILBOX.upper()}>"},
            Classification.own_outbound,
            "from:the-mailbox-itself",
        ),
    ],
)
def test_rules(headers: dict[str, str], expected: Classification, rule: str) -> None:
    verdict = classify(_message(headers), mailbox_email=MAILBOX, own_message_ids=set())
    assert (verdict.classification, verdict.rule) == (expected, rule)


def test_a_dsn_is_a_bounce() -> None:
    verdict = classify(_dsn(), mailbox_email=MAILBOX, own_message_ids=set())
    assert (verdict.classification, verdict.rule) == (Classification.bounce, "dsn:multipart/report")


def test_our_own_message_is_never_a_reply() -> None:
    verdict = classify(
        _message({"Message-ID": "<ours@piedpiper.test>"}),
        mailbox_email=MAILBOX,
        own_message_ids={"<ours@piedpiper.test>"},
    )
    assert verdict.classification == Classification.own_outbound
    assert verdict.rule == "message-id:sent-by-perch"


def test_a_postmaster_chat_is_not_a_bounce() -> None:
    verdict = classify(
        _message({"From": "postmaster@hooli.test", "Subject": "Re: our call"}),
        mailbox_email=MAILBOX,
        own_message_ids=set(),
    )
    assert verdict.classification == Classification.human_reply
