"""Is an incoming message a human reply, an auto-reply, a bounce, or our own mail?

Every verdict names the rule that decided it, so a user can see *why* a message was (or was not)
counted as a reply. Rules, first match wins:

1. own outbound   the Message-ID is one Perch sent (the ledger), or it is From the mailbox itself
2. bounce         a DSN (``multipart/report; report-type=delivery-status``),
                  ``X-Failed-Recipients``, or a mailer-daemon/postmaster sender with a
                  delivery-failure subject
3. auto-reply     RFC 3834 ``Auto-Submitted`` (anything but ``no``), ``X-Autoreply``,
                  ``X-Autorespond``, ``Precedence: auto_reply``, or an out-of-office subject
4. human reply    everything else
"""

from __future__ import annotations

import re
from collections.abc import Container
from dataclasses import dataclass
from email.errors import HeaderParseError
from email.header import decode_header, make_header
from enum import StrEnum

from perch.server.inbox import mime
from perch.server.inbox.mime import Part


class Classification(StrEnum):
    human_reply = "HUMAN_REPLY"
    auto_reply = "AUTO_REPLY"
    bounce = "BOUNCE"
    own_outbound = "OWN_OUTBOUND"


@dataclass(frozen=True)
class Verdict:
    classification: Classification
    rule: str


_DAEMONS = re.compile(r"^(mailer-daemon|postmaster|mail-daemon|mailer_daemon)@", re.I)
_FAILURE_SUBJECT = re.compile(
    r"(undeliver|delivery (status notification|has failed|failure)|returned mail|"
    r"failure notice|mail delivery (failed|system)|delivery incomplete|non[- ]?delivery)",
    re.I,
)
_OOO_SUBJECT = re.compile(
    r"^\s*(out of (the )?office|automatic reply|auto[- ]?reply|autoreply|auto[- ]?response|"
    r"away from (the )?office|abwesenheitsnotiz|automatische antwort|réponse automatique|"
    r"respuesta automática|risposta automatica|resposta automática|afwezig)",
    re.I,
)


def _get(message: Part, header: str) -> str:
    value = message.get(header)
    return "" if value is None else str(value)


def _subject(message: Part) -> str:
    raw = _get(message, "Subject")
    if "=?" not in raw:
        return raw
    try:
        return str(make_header(decode_header(raw)))
    except (HeaderParseError, LookupError, UnicodeError, ValueError):
        return raw


def _addresses(message: Part, header: str) -> list[str]:
    values = [str(v) for v in message.get_all(header)]
    return [addr.lower() for _, addr in mime.addresses(values) if addr]


def _own(message: Part, mailbox_email: str, own_ids: Container[str]) -> Verdict | None:
    message_id = _get(message, "Message-ID").strip()
    if message_id and message_id in own_ids:
        return Verdict(Classification.own_outbound, "message-id:sent-by-perch")
    if mailbox_email.lower() in _addresses(message, "From"):
        return Verdict(Classification.own_outbound, "from:the-mailbox-itself")
    return None


def _bounce(message: Part) -> Verdict | None:
    if message.content_type == "multipart/report":
        report_type = message.params.get("report-type", "").lower()
        if report_type in ("delivery-status", ""):
            return Verdict(Classification.bounce, "dsn:multipart/report")
    if _get(message, "X-Failed-Recipients"):
        return Verdict(Classification.bounce, "header:X-Failed-Recipients")
    senders = _addresses(message, "From") + _addresses(message, "Return-Path")
    if any(_DAEMONS.match(s) for s in senders) and _FAILURE_SUBJECT.search(_subject(message)):
        return Verdict(Classification.bounce, "sender:mailer-daemon")
    return None


def _auto_reply(message: Part) -> Verdict | None:
    auto_submitted = _get(message, "Auto-Submitted").strip().lower()
    if auto_submitted and auto_submitted != "no":
        return Verdict(
            Classification.auto_reply, f"header:Auto-Submitted={auto_submitted.split(';')[0]}"
        )
    for header in ("X-Autoreply", "X-Autorespond", "X-Autoresponder"):
        if _get(message, header):
            return Verdict(Classification.auto_reply, f"header:{header}")
    if _get(message, "Precedence").strip().lower() == "auto_reply":
        return Verdict(Classification.auto_reply, "header:Precedence=auto_reply")
    if _OOO_SUBJECT.search(_subject(message)):
        return Verdict(Classification.auto_reply, "subject:out-of-office")
    return None


def classify(message: Part, *, mailbox_email: str, own_message_ids: Container[str]) -> Verdict:
    return (
        _own(message, mailbox_email, own_message_ids)
        or _bounce(message)
        or _auto_reply(message)
        or Verdict(Classification.human_reply, "default:human")
    )
