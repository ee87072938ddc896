"""Reading MIME messages quickly, with the standard library as the referee.

A first sync reads thousands of messages. ``email.message_from_bytes`` feeds them line by line
and compiles a regular expression for every multipart boundary, which made parsing the largest
part of a sync. ``read`` splits a well-formed message with byte searches instead:

* RFC 5322 header fields (folded lines kept as the standard library keeps them),
* RFC 2046 multiparts, nested, with a closing delimiter,
* leaf bodies in 7bit, 8bit, binary, quoted-printable or base64,
* one line-ending style per message (CRLF or LF).

Anything else (``message/*`` parts, a missing closing boundary, RFC 2231 parameters, a line
that is not a header field, ...) raises ``_Unsupported`` internally and the message is read by
``email.message_from_bytes`` (compat32) instead, then converted to the same ``Part`` tree. Bodies
are decoded only when asked for (damaged base64 and uuencode the standard library's way).
tests/server/inbox/test_mime.py holds both readers to the same answers.

Header values are text: raw 8-bit header bytes (RFC 6532) are read as UTF-8, never as
surrogate escapes that the database would refuse.
"""

from __future__ import annotations

import base64
import binascii
import functools
import re
from collections.abc import Iterator, Mapping
from email import message_from_bytes
from email.message import Message
from email.policy import compat32
from email.utils import collapse_rfc2231_value, getaddresses


class _FieldPattern:
    """One header field (name, colon, blanks, value with its folded lines, line break)."""

    def __init__(self, eol: str) -> None:
        field = rf"([\x21-\x39\x3b-\x7e]+):[ \t]*([^\r\n]*(?:{eol}[ \t][^\r\n]*)*){eol}"
        self.each = re.compile(field)
        self.block = re.compile(rf"(?:{field})*")


_FIELD_CRLF = _FieldPattern("\r\n")
_FIELD_LF = _FieldPattern("\n")
_ATEXT = r"[^()<>@,:;\"\[\]\\ \t\r\n]"  # an atom character, or a dot
_ADDRESS = re.compile(
    rf"(?P<name>[^()<>@,:;\"\[\]\\]*)<(?P<routed>{_ATEXT}+@{_ATEXT}+)>|(?P<bare>{_ATEXT}+@{_ATEXT}+)"
)
_FWS = re.compile(r"[ \t\r\n]+")
_UUENCODE = frozenset({"x-uuencode", "uuencode", "uue", "x-uue"})
MAX_DEPTH = 16


class _Unsupported(Exception):
    """The fast reader does not handle this shape; the standard library will."""


class Part:
    """One MIME entity: its header fields, then either sub-parts or a body."""

    __slots__ = (
        "_body",
        "_encoding",
        "_index",
        "_payload",
        "charset",
        "content_type",
        "headers",
        "params",
        "parts",
    )

    def __init__(
        self,
        headers: list[tuple[str, str]],
        *,
        content_type: str = "text/plain",
        params: Mapping[str, str] | None = None,
        charset: str | None = None,
        parts: list[Part] | None = None,
    ) -> None:
        self.headers = headers
        self.content_type = content_type  # as ``Message.get_content_type()``
        self.params = params or {}  # Content-Type parameters, unquoted, lower-case names; shared
        self.charset = charset  # as ``Message.get_content_charset()``
        self.parts = parts
        self._index: dict[str, list[str]] = {}  # lower-case name: values, in order
        for key, value in headers:
            self._index.setdefault(key.lower(), []).append(value)
        self._payload: bytes | None = None
        self._body = b""  # still transfer-encoded
        self._encoding = ""

    @classmethod
    def from_headers(cls, headers: list[tuple[str, str]]) -> Part:
        """A body-less part, e.g. for classifying a message known only by its headers."""
        return _typed(headers, "text/plain")

    def get(self, name: str) -> str | None:
        """The first field called ``name`` (any case), like ``Message.get``."""
        found = self._index.get(name.lower())
        return found[0] if found else None

    def get_all(self, name: str) -> list[str]:
        return list(self._index.get(name.lower(), ()))

    def is_multipart(self) -> bool:
        return self.parts is not None

    @property
    def payload(self) -> bytes | None:
        """A leaf's decoded body, as ``get_payload(decode=True)``; decoded when first asked
        for, so attachments nobody reads cost nothing. None for a multipart."""
        if self.parts is not None:
            return None
        if self._payload is None:
            self._payload = _decoded(self._body, self._encoding)
        return self._payload

    def walk(self) -> Iterator[Part]:
        """This part, then every part below it, depth first (``Message.walk`` order)."""
        yield self
        for part in self.parts or ():
            yield from part.walk()


def read(raw: bytes) -> Part:
    """The message as a ``Part`` tree; never raises for malformed mail."""
    try:
        return _read_fast(raw)
    except _Unsupported:
        return _from_stdlib(message_from_bytes(raw, policy=compat32))


def _read_fast(raw: bytes) -> Part:
    lines = raw.count(b"\n")
    crlf = raw.count(b"\r\n")
    if raw.count(b"\r") != crlf or (crlf and crlf != lines):
        raise _Unsupported("mixed or bare CR line endings")
    eol = b"\r\n" if crlf else b"\n"
    if raw.startswith(b"From "):
        raise _Unsupported("mbox From_ line")
    return _entity(raw, eol, "text/plain", 0)


def _entity(raw: bytes, eol: bytes, default_type: str, depth: int) -> Part:
    if depth > MAX_DEPTH:
        raise _Unsupported("nested too deeply")
    block, body = _split_head(raw, eol)
    part = _typed(_fields(block.decode("utf-8", "replace"), eol.decode()), default_type)
    main = part.content_type.partition("/")[0]
    if main == "message" or part.content_type == "multipart/digest":
        raise _Unsupported("message parts")
    if main == "multipart":
        boundary = part.params.get("boundary")
        if not boundary or not boundary.isascii():
            raise _Unsupported("multipart without a usable boundary")
        part.parts = [
            _entity(chunk, eol, "text/plain", depth + 1)
            for chunk in _split_multipart(body, boundary.rstrip().encode("ascii"), eol)
        ]
    else:
        part._body = body
        part._encoding = str(part.get("Content-Transfer-Encoding") or "").lower()
    return part


def _split_head(raw: bytes, eol: bytes) -> tuple[bytes, bytes]:
    if raw.startswith(eol):
        return b"", raw[len(eol) :]
    end = raw.find(eol + eol)
    if end < 0:
        return raw, b""
    return raw[: end + len(eol)], raw[end + 2 * len(eol) :]


def _fields(block: str, eol: str) -> list[tuple[str, str]]:
    """Header fields as compat32 stores them: the value after ``:`` without leading blanks,
    folded lines joined with their line breaks, the final line break removed."""
    field = _FIELD_CRLF if eol == "\r\n" else _FIELD_LF
    if not field.block.fullmatch(block):
        raise _Unsupported("a line that is not a header field")
    return field.each.findall(block)


def _split_multipart(body: bytes, boundary: bytes, eol: bytes) -> list[bytes]:
    """The raw entities between ``--boundary`` lines, RFC 2046 section 5.1.1."""
    dash = b"--" + boundary
    chunks: list[bytes] = []
    start: int | None = None  # where the current entity begins
    at = 0
    while True:
        at = body.find(dash, at)
        if at < 0:
            raise _Unsupported("no closing boundary")
        line_end = body.find(eol, at)
        rest = body[at + len(dash) : len(body) if line_end < 0 else line_end]
        closing = rest.startswith(b"--")
        is_delimiter = (at == 0 or body[at - 1 : at] == b"\n") and not (
            rest[2:] if closing else rest
        ).strip(b" \t")
        if not is_delimiter:
            at += len(dash)
            continue
        if start is not None:
            end = at - len(eol)
            if end < start:
                raise _Unsupported("empty entity")
            chunks.append(body[start:end])
        if closing:
            if start is None:
                raise _Unsupported("closing boundary before the first part")
            return chunks
        if line_end < 0:
            raise _Unsupported("no closing boundary")
        start = at = line_end + len(eol)


def _decoded(body: bytes, encoding: str) -> bytes:
    """The body as ``Message.get_payload(decode=True)`` returns it."""
    if encoding == "quoted-printable":
        return binascii.a2b_qp(body)
    if encoding == "base64":
        joined = b"".join(body.splitlines())
        if len(joined) % 4 == 0:
            try:
                return base64.b64decode(joined, validate=True)
            except binascii.Error:
                pass
    if encoding == "base64" or encoding in _UUENCODE:  # damaged, or rare: the stdlib's way
        leaf = Message()
        leaf["Content-Transfer-Encoding"] = encoding
        leaf.set_payload(body.decode("ascii", "surrogateescape"))
        decoded = leaf.get_payload(decode=True)
        return decoded if isinstance(decoded, bytes) else body
    return body


def _typed(headers: list[tuple[str, str]], default_type: str) -> Part:
    part = Part(headers, content_type=default_type)
    value = part.get("Content-Type")
    if value is not None:
        part.content_type, part.params, part.charset = _content_type(value)
    return part


@functools.lru_cache(maxsize=1024)  # most parts repeat a handful of values
def _content_type(value: str) -> tuple[str, Mapping[str, str], str | None]:
    kind = value.partition(";")[0].strip().lower()
    params = _params(value)
    return kind if kind.count("/") == 1 else "text/plain", params, _charset(params.get("charset"))


def _params(value: str) -> dict[str, str]:
    """Content-Type parameters as ``Message.get_param`` finds them (first of a name wins)."""
    params: dict[str, str] = {}
    items = value.split(";")
    if '"' in value and ("\\" in value or any(item.count('"') % 2 for item in items)):
        items = _param_items(value)  # a semicolon inside a quoted string
    for item in items:
        name, equals, raw = item.partition("=")
        name = name.strip().lower()
        if "*" in name:
            raise _Unsupported("RFC 2231 parameter")
        params.setdefault(name, _unquote(raw.strip()) if equals else "")
    return params


def _param_items(value: str) -> list[str]:
    """``value`` split at the semicolons that are not inside a quoted string."""
    items: list[str] = []
    rest = value
    while True:
        end = rest.find(";")
        while end > 0 and (rest.count('"', 0, end) - rest.count('\\"', 0, end)) % 2:
            end = rest.find(";", end + 1)
        if end < 0:
            items.append(rest.strip())
            return items
        items.append(rest[:end].strip())
        rest = rest[end + 1 :]


def _unquote(value: str) -> str:
    if len(value) > 1:
        if value[0] == value[-1] == '"':
            return value[1:-1].replace("\\\\", "\\").replace('\\"', '"')
        if value[0] == "<" and value[-1] == ">":
            return value[1:-1]
    return value


def _charset(value: str | None) -> str | None:
    return value.lower() if value is not None and value.isascii() else None


def _from_stdlib(message: Message, depth: int = 0) -> Part:
    params: dict[str, str] = {}
    for name, value in message.get_params([]):
        params.setdefault(name.lower(), collapse_rfc2231_value(value))
    part = Part(
        [(str(name), _text(value)) for name, value in message.raw_items()],
        content_type=message.get_content_type(),
        params=params,
        charset=message.get_content_charset(),
    )
    if message.is_multipart():
        children = message.get_payload() if depth < MAX_DEPTH else []
        part.parts = [_from_stdlib(c, depth + 1) for c in children if isinstance(c, Message)]
    else:
        payload = message.get_payload(decode=True)
        part._payload = payload if isinstance(payload, bytes) else b""
    return part


def _text(value: object) -> str:
    """A header value as text; compat32 keeps raw 8-bit bytes as surrogate escapes."""
    text = str(value)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    return text


def addresses(values: list[str]) -> list[tuple[str, str]]:
    """``email.utils.getaddresses(values)``, without its character-by-character parser for
    the plain forms (``a@b``, ``Name <a@b>``); quotes, comments, groups and anything unusual
    still go to ``getaddresses``."""
    found: list[tuple[str, str]] = []
    if not values:
        return found
    for item in ", ".join(values).split(","):
        match = _ADDRESS.fullmatch(item.strip(" \t\r\n"))
        if match is None:
            return getaddresses(values)
        if match["bare"] is not None:
            found.append(("", match["bare"]))
        else:
            found.append((" ".join(_FWS.split(match["name"].strip(" \t\r\n"))), match["routed"]))
    return found


def address(value: str) -> tuple[str, str]:
    """``email.utils.parseaddr(value)``: the first address, or ``("", "")``."""
    found = addresses([value])
    return found[0] if found else ("", "")
