"""Fetching whole messages in bulk: ``UID FETCH (UID FLAGS INTERNALDATE BODY.PEEK[])``.

imapclient's ``fetch`` runs every response through a general token lexer, which costs more than
reading the messages off the wire. A bulk fetch answer has one usual shape per message::

    * 12 FETCH (UID 40 FLAGS (\\Seen) INTERNALDATE "21-Nov-2026 16:55:00 +0000" BODY[] {2512}
    <2512 bytes>)

so ``parse`` reads that shape with a few regular expressions over imaplib's raw response and
hands any answer it does not recognise in full to imapclient's own parser. Untagged FETCH
responses without a body (flag changes the server reports on the side) are not messages and
are skipped, whichever parser read them.
"""

from __future__ import annotations

import imaplib
import itertools
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from imapclient import IMAPClient
from imapclient.exceptions import IMAPClientError
from imapclient.response_parser import parse_fetch_response

ITEMS = b"(UID FLAGS INTERNALDATE BODY.PEEK[])"
_TAGS = itertools.count(1)
_FETCH = re.compile(rb"\* (\d+) FETCH ")
_LITERAL = re.compile(rb"\{(\d+)\}$")
_UID = re.compile(rb"[( ]UID (\d+)[ )]")
_FLAGS = re.compile(rb"[( ]FLAGS \(([^()]*)\)")
_DATE = re.compile(rb'[( ]INTERNALDATE "([^"]*)"')
_HEAD = re.compile(rb"\d+ \(.*BODY\[\] \{\d+\}", re.S)
_IMAP_DATE = re.compile(
    r" ?(\d{1,2})-([A-Za-z]{3})-(\d{4}) (\d\d):(\d\d):(\d\d) ([+-])(\d\d)(\d\d)"
)
_MONTHS = {
    name: number
    for number, name in enumerate(
        ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), 1
    )
}


@dataclass(frozen=True)
class FetchedMessage:
    uid: int
    flags: frozenset[str]
    internal_date: datetime | None  # aware
    body: bytes


class _Unfamiliar(Exception):
    """An answer shape the fast reader does not know; imapclient's parser reads it."""


def fetch(client: IMAPClient, uids: Sequence[int]) -> list[FetchedMessage]:
    """Blocking: the messages with these UIDs that still exist, in the server's order."""
    if not uids:
        return []
    imap = client._imap  # imapclient has no call that hands back the raw answer
    tag = b"PF%d" % next(_TAGS)
    uid_set = ",".join(str(uid) for uid in uids).encode()
    imap.send(tag + b" UID FETCH " + uid_set + b" " + ITEMS + b"\r\n")
    return parse(_answer(imap, tag))


def _answer(imap: imaplib.IMAP4, tag: bytes) -> list[Any]:
    """The untagged FETCH data up to our tagged reply, in imaplib's shape: ``(line, literal)``
    for a line that announces a literal, the bare line for the rest of the response."""
    data: list[Any] = []
    while True:
        line = _line(imap)
        if line.startswith(tag + b" "):
            status = line[len(tag) + 1 :].partition(b" ")[0]
            if status != b"OK":
                raise IMAPClientError(f"fetch failed: {line!r}")
            return data
        fetch = _FETCH.match(line)
        if fetch is not None:
            line = fetch.group(1) + b" " + line[fetch.end() :]  # as imaplib keeps it
        parts: list[Any] = []
        while (literal := _LITERAL.search(line)) is not None:  # read any literal, ours or not
            body = imap.read(int(literal.group(1)))
            if len(body) != int(literal.group(1)):
                raise imaplib.IMAP4.abort("socket error: EOF in a literal")
            parts.append((line, body))
            line = _line(imap)
        if fetch is not None:  # other untagged answers (EXISTS, EXPUNGE, OK ...) are not ours
            data += [*parts, line]


def _line(imap: imaplib.IMAP4) -> bytes:
    line = imap.readline()
    if not line.endswith(b"\r\n"):
        raise imaplib.IMAP4.abort(f"socket error: {'EOF' if not line else 'unterminated line'}")
    return line[:-2]


def parse(data: list[Any]) -> list[FetchedMessage]:
    """imaplib's untagged FETCH data as messages."""
    try:
        return _parse_fast(data)
    except _Unfamiliar:
        return _parse_general(data)


def _parse_fast(data: list[Any]) -> list[FetchedMessage]:
    found: list[FetchedMessage] = []
    pending: tuple[bytes, bytes] | None = None
    for item in data:
        if item is None:  # imaplib's "no untagged answer"
            continue
        if isinstance(item, tuple):
            if pending is not None or len(item) != 2 or not _HEAD.fullmatch(item[0]):
                raise _Unfamiliar
            pending = item
        elif isinstance(item, bytes):
            if pending is None:
                if b"BODY[" in item or b"{" in item:
                    raise _Unfamiliar
                continue  # a FETCH without a body: flags changed elsewhere
            found.append(_message(pending[0] + item, pending[1]))
            pending = None
        else:
            raise _Unfamiliar
    if pending is not None:
        raise _Unfamiliar
    return found


def _message(meta: bytes, body: bytes) -> FetchedMessage:
    if not meta.endswith(b")"):
        raise _Unfamiliar
    uid = _UID.search(meta)
    flags = _FLAGS.search(meta)
    date = _DATE.search(meta)
    if uid is None or flags is None:
        raise _Unfamiliar
    return FetchedMessage(
        uid=int(uid.group(1)),
        flags=frozenset(flags.group(1).decode("ascii", "replace").split()),
        internal_date=internal_date(date.group(1).decode("ascii", "replace")) if date else None,
        body=body,
    )


def internal_date(value: str) -> datetime | None:
    """An IMAP ``date-time`` ("21-Nov-2026 16:55:00 +0000") as an aware datetime, whatever the
    process's locale."""
    match = _IMAP_DATE.fullmatch(value)
    month = _MONTHS.get(match.group(2).lower()) if match else None
    if match is None or month is None:
        return None
    day, _, year, hour, minute, second, sign, off_h, off_m = match.groups()
    offset = timedelta(hours=int(off_h), minutes=int(off_m)) * (-1 if sign == "-" else 1)
    try:
        return datetime(
            int(year),
            month,
            int(day),
            int(hour),
            int(minute),
            int(second),
            tzinfo=timezone(offset),
        )
    except ValueError:
        return None


def _parse_general(data: list[Any]) -> list[FetchedMessage]:
    found: list[FetchedMessage] = []
    for values in parse_fetch_response(data, normalise_times=False, uid_is_key=False).values():
        body = values.get(b"BODY[]")
        uid = values.get(b"UID")
        if body is None or not isinstance(uid, int):
            continue
        when = values.get(b"INTERNALDATE")
        found.append(
            FetchedMessage(
                uid=uid,
                flags=frozenset(_text(flag) for flag in values.get(b"FLAGS", ())),
                internal_date=when.astimezone(UTC) if isinstance(when, datetime) else None,
                body=bytes(body),
            )
        )
    return found


def _text(value: object) -> str:
    return value.decode("ascii", "replace") if isinstance(value, bytes) else str(value)
