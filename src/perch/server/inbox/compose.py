"""Building a reply: threading headers, subject, a text part made from the HTML, quoting.

reply_subject("Hello")              -> "Re: Hello"      ("RE: x", "re:x" stay as they are)
thread_references(refs, msg_id)     -> the original's References plus its Message-ID
html_to_text("<p>Hi<br>there</p>") -> "Hi\\nthere"
build_reply(...)                    -> a multipart/alternative EmailMessage, ready to send
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime, formataddr, make_msgid
from html.parser import HTMLParser

_RE = re.compile(r"^\s*re\s*:", re.I)
_MAX_REFERENCES = 20  # RFC 5322 lets long chains be trimmed; keep the first and the latest


def reply_subject(subject: str | None) -> str:
    subject = (subject or "").strip()
    return subject if _RE.match(subject) else f"Re: {subject}".rstrip()


def thread_references(references: str | None, message_id: str | None) -> str:
    ids = re.findall(r"<[^<>\s]+>", references or "")
    if message_id and message_id not in ids:
        ids.append(message_id)
    if len(ids) > _MAX_REFERENCES:
        ids = ids[:1] + ids[-(_MAX_REFERENCES - 1) :]
    return " ".join(ids)


class _TextExtractor(HTMLParser):
    _BLOCK = {
        "p",
        "div",
        "br",
        "li",
        "tr",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "blockquote",
        "table",
    }
    _SKIP = {"script", "style", "head", "title"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skipping = 0
        self.href: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self._SKIP:
            self.skipping += 1
        elif tag in self._BLOCK:
            self.parts.append("\n")
        if tag == "li":
            self.parts.append("- ")
        if tag == "a":
            self.href = dict(attrs).get("href")

    def handle_endtag(self, tag: str) -> None:
        if tag in self._SKIP:
            self.skipping = max(0, self.skipping - 1)
        elif tag in self._BLOCK and tag not in ("br", "li"):
            self.parts.append("\n")
        if tag == "a" and self.href and self.href.startswith(("http://", "https://", "mailto:")):
            self.parts.append(f" ({self.href.removeprefix('mailto:')})")
            self.href = None

    def handle_data(self, data: str) -> None:
        if not self.skipping:
            self.parts.append(re.sub(r"\s+", " ", data))


def html_to_text(markup: str) -> str:
    parser = _TextExtractor()
    parser.feed(markup)
    parser.close()
    lines = [line.strip() for line in "".join(parser.parts).splitlines()]
    text = "\n".join(lines)
    return re.sub(r"\n{3,}", "\n\n", text).strip()


@dataclass(frozen=True)
class Original:
    """What a reply needs to know about the message it answers."""

    message_id: str | None
    references: str | None
    subject: str | None
    sender: str  # display form of the author, for the quote header
    date: datetime | None
    html: str | None
    text: str | None


@dataclass(frozen=True)
class Reply:
    from_email: str
    from_name: str | None
    to: list[str]
    cc: list[str] = field(default_factory=list)
    subject: str | None = None
    html: str = ""
    quote_original: bool = False
    footer: str | None = None


def _quote_html(original: Original) -> str:
    when = format_datetime(original.date) if original.date else "an earlier date"
    body = original.html or f"<pre>{html.escape(original.text or '')}</pre>"
    intro = html.escape(f"On {when}, {original.sender} wrote:")
    return (
        f'<div class="perch-quote"><p>{intro}</p><blockquote type="cite">{body}</blockquote></div>'
    )


def _quote_text(original: Original) -> str:
    when = format_datetime(original.date) if original.date else "an earlier date"
    source = original.text or html_to_text(original.html or "")
    quoted = "\n".join(f"> {line}" if line else ">" for line in source.splitlines())
    return f"On {when}, {original.sender} wrote:\n{quoted}"


def build_reply(reply: Reply, original: Original, *, now: datetime) -> EmailMessage:
    body_html = reply.html + (reply.footer or "")
    if reply.quote_original:
        body_html += _quote_html(original)
    body_text = html_to_text(reply.html + (reply.footer or ""))
    if reply.quote_original:
        body_text += "\n\n" + _quote_text(original)
    message = EmailMessage()
    message["From"] = formataddr((reply.from_name or "", reply.from_email))
    message["To"] = ", ".join(reply.to)
    if reply.cc:
        message["Cc"] = ", ".join(reply.cc)
    message["Subject"] = (
        reply.subject if reply.subject is not None else reply_subject(original.subject)
    )
    message["Date"] = format_datetime(now)
    message["Message-ID"] = make_msgid(domain=reply.from_email.rpartition("@")[2] or None)
    if original.message_id:
        message["In-Reply-To"] = original.message_id
    references = thread_references(original.references, original.message_id)
    if references:
        message["References"] = references
    message.set_content(body_text)
    message.add_alternative(body_html, subtype="html")
    return message
