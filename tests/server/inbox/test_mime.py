"""The fast MIME reader gives the standard library's answers, or hands the message to it."""

from __future__ import annotations

import base64
import binascii
from email import message_from_bytes
from email.policy import compat32
from email.utils import getaddresses
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from perch.server.inbox import mime


def _tree(part: mime.Part) -> tuple[Any, ...]:
    children = None if part.parts is None else [_tree(child) for child in part.parts]
    return (
        part.headers,
        part.content_type,
        dict(part.params),
        part.charset,
        part.payload,
        children,
    )


def _stdlib(raw: bytes) -> tuple[Any, ...]:
    return _tree(mime._from_stdlib(message_from_bytes(raw, policy=compat32)))


def _crlf(text: str) -> bytes:
    return text.replace("\n", "\r\n").encode()


ALTERNATIVE = """From: Richard Hendricks <richard@hooli.example>
To: jared@piedpiper.example, "Gilfoyle" <gil@piedpiper.example>
Subject: Re: our call
 (folded onto a second line)
Message-ID: <r1@hooli.example>
MIME-Version: 1.0
Content-Type: multipart/alternative; boundary="==b1;x=="

This preamble is ignored.
--==b1;x==
Content-Type: text/plain; charset="UTF-8"
Content-Transfer-Encoding: quoted-printable

Tuesday works. A long line that wraps=
 here, and an equals sign =3D.
--==b1;x==-not-a-boundary
--==b1;x==extra is body text too
--==b1;x==\t
Content-Type: TEXT/HTML; Charset=iso-8859-1

<p>Tuesday works.</p>

--==b1;x==--
epilogue
"""

MIXED = """From: monica@raviga.example
Subject: the deck
Content-Type: multipart/mixed; boundary=outer

--outer
Content-Type: multipart/alternative; boundary=inner

--inner
Content-Type: text/plain

See attached.
--inner
Content-Type: text/html

<p>See attached.</p>
--inner--

--outer
Content-Type: application/pdf; name="deck.pdf"
Content-Disposition: attachment; filename="deck.pdf"
Content-Transfer-Encoding: base64

{pdf}
--outer--
"""

FAST = {
    "plain, no MIME headers": "From: a@example.com\nSubject: hi\n\nbody\n",
    "alternative": ALTERNATIVE,
    "nested with attachment": MIXED.format(pdf=base64.encodebytes(b"%PDF-1.4 " * 40).decode()),
    "no body": "From: a@example.com\nSubject: only headers\n",
    "empty body": "From: a@example.com\n\n",
    "content type without a slash": "Content-Type: text\n\nbody\n",
    "duplicate fields": "Received: one\nReceived: two\nTo: a@x.example\nTo: b@x.example\n\nbody\n",
    "8-bit UTF-8 header": "From: Jürgen <j@example.de>\nSubject: Grüße\n\nbody\n",
    "empty parameter": "Content-Type: text/plain; charset=\n\nbody\n",
}

FALLBACK = {
    "attached message": "Content-Type: multipart/mixed; boundary=b\n\n--b\n"
    "Content-Type: message/rfc822\n\nSubject: inner\n\ninner body\n--b--\n",
    "no closing boundary": "Content-Type: multipart/mixed; boundary=b\n\n--b\n\nbody\n",
    "RFC 2231 parameter": "Content-Type: text/plain; charset*=us-ascii'en'utf-8\n\nbody\n",
    "a line that is not a field": "From: a@example.com\nthis is not a header\n\nbody\n",
    "mbox From_ line": "From a@example.com Sat Nov 21 10:00:00 2026\nSubject: x\n\nbody\n",
    "continuation first": " folded\nSubject: x\n\nbody\n",
    "closing boundary first": "Content-Type: multipart/mixed; boundary=b\n\n--b--\n",
}


@pytest.mark.parametrize("text", FAST.values(), ids=FAST.keys())
@pytest.mark.parametrize("ending", ["\n", "\r\n"])
def test_the_fast_reader_agrees_with_the_standard_library(text: str, ending: str) -> None:
    raw = text.replace("\n", ending).encode()
    assert _tree(mime._read_fast(raw)) == _stdlib(raw)


@pytest.mark.parametrize("text", FALLBACK.values(), ids=FALLBACK.keys())
def test_unusual_shapes_go_to_the_standard_library(text: str) -> None:
    raw = _crlf(text)
    with pytest.raises(mime._Unsupported):
        mime._read_fast(raw)
    assert _tree(mime.read(raw)) == _stdlib(raw)


def test_mixed_line_endings_go_to_the_standard_library() -> None:
    raw = b"From: a@example.com\r\nSubject: x\n\r\nbody\r\n"
    with pytest.raises(mime._Unsupported):
        mime._read_fast(raw)
    assert mime.read(raw).get("Subject") == "x"


def test_the_parts_and_their_bodies() -> None:
    message = mime.read(_crlf(ALTERNATIVE))
    plain, html = message.parts or []
    assert message.content_type == "multipart/alternative"
    assert plain.payload is not None
    assert plain.payload.startswith(b"Tuesday works. A long line that wraps here, and an equals")
    assert b"not-a-boundary" in plain.payload and b"extra is body text too" in plain.payload
    assert html.payload == b"<p>Tuesday works.</p>\r\n"
    assert (plain.charset, html.charset, html.content_type) == ("utf-8", "iso-8859-1", "text/html")
    assert message.get("subject") == "Re: our call\r\n (folded onto a second line)"
    assert [p.content_type for p in message.walk()] == [
        "multipart/alternative",
        "text/plain",
        "text/html",
    ]


def test_header_bytes_are_read_as_utf8_by_both_readers() -> None:
    raw = "Subject: Grüße\r\n\r\nbody\r\n".encode()
    broken = (
        b"Subject: \xff\xfe\r\nX: y\r\nContent-Type: message/rfc822\r\n\r\nSubject: z\r\n\r\nb\r\n"
    )
    assert mime.read(raw).get("Subject") == "Grüße"
    assert mime.read(broken).get("Subject") == "\ufffd\ufffd"  # no surrogates for the database


def test_a_damaged_attachment_is_decoded_leniently_and_only_when_read() -> None:
    raw = _crlf(MIXED.format(pdf="JVBERi0x=LjQ*\nnot base64!"))
    message = mime._read_fast(raw)  # the fast path, despite the damaged attachment
    attachment = (message.parts or [])[1]
    assert attachment._payload is None  # nobody asked for it yet
    assert attachment.payload == _stdlib(raw)[5][1][4]


def test_random_bytes_never_break_the_reader() -> None:
    for seed in range(200):
        raw = binascii.crc32(str(seed).encode()).to_bytes(4, "big") * (seed % 17)
        mime.read(b"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n" + raw)


# Generated messages: whatever the fast reader accepts, it reads exactly like the stdlib.

_token = st.text(alphabet="abcXYZ019-._", min_size=1, max_size=8)
_value = st.text(alphabet='abc XYZ019-.,;:"=<>@()\t', max_size=30)


@st.composite
def _entity(draw: st.DrawFn, depth: int = 0) -> str:
    headers = [f"X-{draw(_token)}: {draw(_value)}" for _ in range(draw(st.integers(0, 3)))]
    if depth < 2 and draw(st.booleans()):
        boundary = draw(st.sampled_from(["b", "==x==", "a b", "q;q"])) + str(depth)
        quoted = f'"{boundary}"' if draw(st.booleans()) or " " in boundary else boundary
        headers.append(f"Content-Type: multipart/mixed; boundary={quoted}")
        children = draw(st.lists(_entity(depth + 1), min_size=1, max_size=3))
        body = "".join(f"--{boundary}\n{child}\n" for child in children) + f"--{boundary}--\n"
        return "\n".join(headers) + "\n\n" + draw(st.sampled_from(["", "preamble\n"])) + body
    kind = draw(st.sampled_from(["text/plain", "text/html", "application/octet-stream"]))
    charset = draw(st.sampled_from(["", "; charset=utf-8", '; charset="ISO-8859-1"']))
    text = draw(st.text(alphabet="ab =\n-", max_size=60))
    encoding = draw(st.sampled_from(["7bit", "quoted-printable", "base64"]))
    if encoding == "base64":
        text = base64.encodebytes(text.encode()).decode()
    headers += [f"Content-Type: {kind}{charset}", f"Content-Transfer-Encoding: {encoding}"]
    return "\n".join(headers) + "\n\n" + text


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_entity(), st.sampled_from(["\n", "\r\n"]))
def test_generated_messages_read_the_same(text: str, ending: str) -> None:
    raw = text.replace("\r\n", "\n").replace("\n", ending).encode()
    try:
        fast = mime._read_fast(raw)
    except mime._Unsupported:
        return
    assert _tree(fast) == _stdlib(raw)


_name = st.text(alphabet="abc XYZ.\t'-", max_size=12)
_addr = st.builds(lambda a, b: f"{a}@{b}", _token, _token)
_item = st.one_of(
    _addr,
    st.builds(lambda n, a: f"{n}<{a}>", _name, _addr),
    st.builds(lambda n, a: f'"{n}" <{a}>', _name, _addr),
    st.builds(lambda a, c: f"{a} ({c})", _addr, _name),
    st.text(alphabet='ab@<>,;:"() .', max_size=15),
)


@settings(max_examples=500, deadline=None)
@given(st.lists(st.lists(_item, min_size=1, max_size=3).map(", ".join), max_size=3))
def test_addresses_are_parsed_like_getaddresses(values: list[str]) -> None:
    assert mime.addresses(values) == getaddresses(values)


@pytest.mark.parametrize(
    "value",
    [
        "Richard Hendricks <richard@hooli.example>",
        "richard@hooli.example",
        "  Big   Head\r\n <bh@hooli.example> , gavin@hooli.example",
        '"Doe, John" <j@x.example>',
        "j@x.example (John)",
        "undisclosed-recipients:;",
        "<>",
        "",
    ],
)
def test_address_examples(value: str) -> None:
    assert mime.addresses([value]) == getaddresses([value])
