"""Bulk FETCH: the raw answer read by the fast reader or, when unfamiliar, by imapclient."""

from __future__ import annotations

import imaplib
import io
import locale
from datetime import UTC, datetime, timedelta, timezone

import pytest

from perch.sandbox import Dovecot, SandboxCA, SandboxIMAP
from perch.server.integrations import imap_fetch
from perch.server.integrations.imap import ImapConnector
from perch.server.integrations.mailnet import MailServer, Security
from tests.fixtures.peers import ALICE, ALICE_PASSWORD
from tests.server.integrations.mail_helpers import LOOPBACK

DATE = b'INTERNALDATE "21-Nov-2026 16:55:00 +0100"'


def test_the_usual_shape_and_items_after_the_literal() -> None:
    data = [
        (b"1 (UID 7 FLAGS (\\Seen $Label) " + DATE + b" BODY[] {5}", b"hello"),
        b")",
        b"2 (FLAGS (\\Deleted))",  # the server reporting a flag change on the side
        (b"3 (BODY[] {3}", b"a)c"),
        b' UID 9 FLAGS () INTERNALDATE " 1-Nov-2026 01:02:03 -0530")',
    ]
    first, second = imap_fetch.parse(data)
    assert (first.uid, first.body, first.flags) == (7, b"hello", frozenset({"\\Seen", "$Label"}))
    assert first.internal_date == datetime(2026, 11, 21, 15, 55, tzinfo=UTC)
    assert (second.uid, second.body, second.flags) == (9, b"a)c", frozenset())
    offset = timezone(-timedelta(hours=5, minutes=30))
    assert second.internal_date == datetime(2026, 11, 1, 1, 2, 3, tzinfo=offset)


def test_an_unfamiliar_answer_is_read_by_imapclient() -> None:
    data = [b'4 (UID 10 FLAGS (\\Seen) INTERNALDATE "21-Nov-2026 16:55:00 +0100" BODY[] "hi")']
    (message,) = imap_fetch.parse(data)
    assert (message.uid, message.body, message.flags) == (10, b"hi", frozenset({"\\Seen"}))
    assert message.internal_date == datetime(2026, 11, 21, 15, 55, tzinfo=UTC)


def test_a_message_without_uid_or_body_is_not_a_message() -> None:
    assert imap_fetch.parse([None]) == []
    assert imap_fetch.parse([(b"5 (FLAGS () BODY[] {2}", b"hi"), b")"]) == []


@pytest.mark.parametrize("value", ["31-Feb-2026 10:00:00 +0000", "21-Foo-2026 10:00:00 +0000", ""])
def test_a_bad_internal_date_is_none(value: str) -> None:
    assert imap_fetch.internal_date(value) is None


def test_internal_dates_do_not_depend_on_the_locale() -> None:
    previous = locale.setlocale(locale.LC_TIME)
    try:
        for name in ("de_DE.UTF-8", "fr_FR.UTF-8", "C"):
            try:
                locale.setlocale(locale.LC_TIME, name)
            except locale.Error:
                continue
            assert imap_fetch.internal_date("21-Dec-2026 10:00:00 +0000") is not None
    finally:
        locale.setlocale(locale.LC_TIME, previous)


async def _fetch_all(server: MailServer, ca: SandboxCA) -> list[imap_fetch.FetchedMessage]:
    async with (
        ImapConnector(ca.client_context(), timeout=20, allowed=LOOPBACK) as connector,
        connector.session(server, ALICE, ALICE_PASSWORD) as session,
    ):
        await session.select("INBOX")
        uids = await session.run(lambda client: client.search(["ALL"]), "search")
        return await session.fetch_messages([*uids, max(uids) + 1000])  # one that is gone


async def test_fetch_from_pymap(imap_server: SandboxIMAP, sandbox_ca: SandboxCA) -> None:
    bodies = [b"Subject: one\r\n\r\nfirst\r\n", b"Subject: two\r\n\r\n" + b"x" * 70_000 + b"\r\n"]
    for body in bodies:
        await imap_server.append(ALICE, "INBOX", body)
    server = MailServer("localhost", imap_server.implicit_port, Security.implicit_tls)
    fetched = await _fetch_all(server, sandbox_ca)
    assert [m.body for m in fetched] == bodies
    assert all(m.internal_date is not None and m.internal_date.tzinfo for m in fetched)


async def test_fetch_from_dovecot(dovecot: Dovecot, sandbox_ca: SandboxCA) -> None:
    body = b"Subject: fetched from dovecot\r\nMessage-ID: <f1@test>\r\n\r\nhello\r\n"
    uid = dovecot.append(ALICE, "INBOX", body, flags=["\\Seen"])
    server = MailServer("localhost", dovecot.imap_port, Security.starttls)
    fetched = {m.uid: m for m in await _fetch_all(server, sandbox_ca)}
    assert fetched[uid].body == body
    assert "\\Seen" in fetched[uid].flags


class _Wire:
    """The two reads ``_answer`` makes of an imaplib connection, over fixed server bytes."""

    def __init__(self, data: bytes) -> None:
        self._stream = io.BytesIO(data)

    def readline(self) -> bytes:
        return self._stream.readline()

    def read(self, size: int) -> bytes:
        return self._stream.read(size)


def test_a_literal_in_someone_elses_answer_is_read_past() -> None:
    wire = _Wire(
        b"* OK [ALERT] {8}\r\nPF1 OK x\r\n* 4 EXISTS\r\n"  # a literal that looks tagged
        b"* 1 FETCH (UID 3 FLAGS () BODY[] {2}\r\nhi)\r\nPF1 OK done\r\n"
    )
    (message,) = imap_fetch.parse(imap_fetch._answer(wire, b"PF1"))  # type: ignore[arg-type]
    assert (message.uid, message.body) == (3, b"hi")


def test_a_refused_fetch_and_a_lost_connection_are_errors() -> None:
    with pytest.raises(imaplib.IMAP4.error, match="fetch failed"):
        imap_fetch._answer(_Wire(b"PF2 NO [SERVERBUG] oops\r\n"), b"PF2")  # type: ignore[arg-type]
    with pytest.raises(imaplib.IMAP4.abort):
        imap_fetch._answer(_Wire(b"* 1 FETCH (UID 3 BODY[] {9}\r\nshort"), b"PF3")  # type: ignore[arg-type]
