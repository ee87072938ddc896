"""A stored mailbox as Woodpecker lists it: one SMTP record and one IMAP record, own ids each.

Mapping (reference 1.3): ``signature`` is the footer, ``bcc_crm`` the bcc, ``open_url`` /
``click_url`` / ``unsubscribe_url`` the tracking domains, ``frequency_from`` / ``frequency_to``
the sending wait times in milliseconds. Graph mailboxes (Microsoft) have no SMTP/IMAP server:
their records show the Graph host, port 443 and the address as the login.
"""

from __future__ import annotations

from urllib.parse import urlparse

from perch.server.kit.timefmt import iso_local
from perch.server.mailbox.schemas import (
    ImapDetails,
    ImapRecord,
    SmtpDetails,
    SmtpRecord,
    WarmupData,
)
from perch.server.models.mailbox import Mailbox, MailboxImap, MailboxTransport

GRAPH_PORT = 443
WARMUP = "DISABLED"  # Perch does not warm mailboxes up


def graph_host(graph_url: str) -> str:
    return urlparse(graph_url).hostname or "graph.microsoft.com"


def smtp_record(mailbox: Mailbox, imap: MailboxImap | None, graph: str) -> SmtpRecord:
    server, port, login = _smtp_endpoint(mailbox, graph)
    details = SmtpDetails(
        email=mailbox.email,
        provider=mailbox.provider,
        login=login,
        server=server,
        port=port,
        from_name=mailbox.from_name,
        error=mailbox.error,
        imap_id=imap.id if imap else None,
        daily_limit=mailbox.daily_limit,
        sent_today=0,
        frequency_from=_milliseconds(mailbox.sending_wait_time_from),
        frequency_to=_milliseconds(mailbox.sending_wait_time_to),
        bcc_crm=mailbox.bcc,
        signature=mailbox.footer,
        open_url=mailbox.open_tracking_domain,
        click_url=mailbox.click_tracking_domain,
        unsubscribe_url=mailbox.unsubscribe_tracking_domain,
        freeze_account=[],
        in_slot=True,
        warmup_data=WarmupData(status=WARMUP),
    )
    return SmtpRecord(id=mailbox.id, details=details)


def imap_record(imap: MailboxImap, mailbox: Mailbox, graph: str) -> ImapRecord:
    graph_mailbox = mailbox.transport == MailboxTransport.graph
    details = ImapDetails(
        email=imap.email,
        provider=mailbox.provider,
        login=imap.email if graph_mailbox else (imap.login or imap.email),
        server=graph if graph_mailbox else imap.server,
        port=GRAPH_PORT if graph_mailbox else imap.port,
        private=False,
        error=imap.sync_error,
        last_synced=iso_local(imap.synced_at) if imap.synced_at else None,
    )
    return ImapRecord(id=imap.id, details=details)


def records(
    rows: list[tuple[Mailbox, MailboxImap | None]], graph: str
) -> list[SmtpRecord | ImapRecord]:
    """Each mailbox's SMTP record followed by its IMAP record, by SMTP id."""
    out: list[SmtpRecord | ImapRecord] = []
    for mailbox, imap in rows:
        out.append(smtp_record(mailbox, imap, graph))
        if imap is not None:
            out.append(imap_record(imap, mailbox, graph))
    return out


def _smtp_endpoint(mailbox: Mailbox, graph: str) -> tuple[str | None, int | None, str]:
    if mailbox.transport == MailboxTransport.graph:
        return graph, GRAPH_PORT, mailbox.email
    return mailbox.smtp_server, mailbox.smtp_port, mailbox.smtp_login or mailbox.email


def _milliseconds(seconds: int | None) -> int | None:
    return None if seconds is None else seconds * 1000
