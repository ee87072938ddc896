"""Verifying one mailbox for real: SMTP login, IMAP login + SELECT INBOX, tracking domains.

The three run at the same time. The outcome is

* ``CONNECTED``: SMTP and IMAP work, every tracking domain resolves;
* ``CONDITIONALLY_CONNECTED``: SMTP works, something that does not stop sending failed;
* ``FAILED``: SMTP does not work (whatever else was found is listed too).

Tracking domains are looked up (A/AAAA, CNAMEs followed) through PERCH_DNS_NAMESERVERS, like the
deliverability checks. Each failure is a problem dict (``ProblemRead``): service, code, stage,
server, reply, hint, message, retryable. Connections to one server host are bounded by
``HostLimiter``.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import dns.exception
import dns.resolver
import structlog

from perch.server.integrations import dns as dns_integration
from perch.server.integrations.imap import ImapConnector
from perch.server.integrations.mailnet import MailError, MailPermanent, MailServer, MailTransient
from perch.server.integrations.smtp import SmtpConnector
from perch.server.models.mailbox_batch_item import BatchItemStatus

log = structlog.get_logger(__name__)
Problem = dict[str, Any]


@dataclass(frozen=True)
class MailboxCheck:
    """What to verify. Passwords are in clear here: build it right before use, never log it."""

    smtp: MailServer
    smtp_login: str
    smtp_password: str = field(repr=False)
    imap: MailServer
    imap_login: str
    imap_password: str = field(repr=False)
    tracking_domains: tuple[str, ...] = ()


@dataclass(frozen=True)
class Outcome:
    status: BatchItemStatus
    problems: list[Problem]


class HostLimiter:
    """At most ``limit`` SMTP connections, and ``limit`` IMAP connections, at once to one
    server host name (the SMTP and the IMAP server of a host are separate services with their
    own connection limits; two ports of one protocol share the budget)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._semaphores: dict[tuple[str, str], asyncio.Semaphore] = {}

    @contextlib.asynccontextmanager
    async def slot(self, protocol: str, host: str) -> AsyncIterator[None]:
        key = (protocol, host.lower())
        semaphore = self._semaphores.setdefault(key, asyncio.Semaphore(self.limit))
        async with semaphore:
            yield


class DomainLookup:
    """Does a name resolve (A or AAAA, CNAMEs followed)? Asked of PERCH_DNS_NAMESERVERS."""

    def __init__(self, nameservers: Sequence[str], timeout: float) -> None:
        self._nameservers = list(nameservers)
        self._timeout = timeout

    async def exists(self, name: str) -> bool:
        try:
            resolver = dns_integration.build_resolver(self._nameservers, self._timeout)
            for rdtype in ("A", "AAAA"):
                with contextlib.suppress(dns.resolver.NoAnswer):
                    await resolver.resolve(name, rdtype, search=False)
                    return True
        except dns.resolver.NXDOMAIN:
            return False
        except dns.exception.DNSException as e:
            raise dns_integration.DnsUnavailable(type(e).__name__) from e
        return False


class Checker:
    def __init__(
        self,
        smtp: SmtpConnector,
        imap: ImapConnector,
        hosts: HostLimiter,
        domains: DomainLookup,
    ) -> None:
        self.smtp = smtp
        self.imap = imap
        self.hosts = hosts
        self.domains = domains

    async def check(self, spec: MailboxCheck) -> Outcome:
        tracking = [
            self._guarded("TRACKING_DOMAIN", self._tracking(d)) for d in spec.tracking_domains
        ]
        smtp, imap, *domains = await asyncio.gather(
            self._guarded("SMTP", self._smtp(spec)),
            self._guarded("IMAP", self._imap(spec)),
            *tracking,
        )
        problems = [p for p in (smtp, imap, *domains) if p is not None]
        if smtp is not None:
            return Outcome(BatchItemStatus.failed, problems)
        if problems:
            return Outcome(BatchItemStatus.conditionally_connected, problems)
        return Outcome(BatchItemStatus.connected, [])

    async def _smtp(self, spec: MailboxCheck) -> None:
        async with self.hosts.slot("SMTP", spec.smtp.host):
            session = await self.smtp.open(spec.smtp, spec.smtp_login, spec.smtp_password)
            await session.close()

    async def _imap(self, spec: MailboxCheck) -> None:
        async with (
            self.hosts.slot("IMAP", spec.imap.host),
            self.imap.session(spec.imap, spec.imap_login, spec.imap_password) as session,
        ):
            await session.select("INBOX")

    async def _tracking(self, domain: str) -> None:
        try:
            found = await self.domains.exists(domain)
        except dns_integration.DnsUnavailable as e:
            message = f"looking up the tracking domain {domain} failed: {e}"
            raise MailTransient("DNS_LOOKUP_FAILED", "dns", message, server=domain) from e
        if not found:
            raise MailPermanent(
                "TRACKING_DOMAIN_NOT_FOUND",
                "dns",
                f"the tracking domain {domain} does not resolve",
                server=domain,
                hint=f"point {domain} at your tracking host with a CNAME record",
            )

    async def _guarded(self, service: str, check: Any) -> Problem | None:
        try:
            await check
        except MailError as e:
            return problem(service, e)
        except Exception:
            log.exception("mailbox.check.crashed", service=service)
            return internal_problem(service)
        return None


def problem(service: str, error: MailError) -> Problem:
    return {
        "service": service,
        "code": error.code,
        "stage": error.stage,
        "server": error.server,
        "reply": error.reply,
        "hint": error.hint,
        "message": error.message,
        "retryable": error.retryable,
    }


def internal_problem(service: str) -> Problem:
    return {
        "service": service,
        "code": "INTERNAL_ERROR",
        "stage": "unknown",
        "server": None,
        "reply": None,
        "hint": "Perch failed unexpectedly while checking; its log has the details",
        "message": f"the {service} check failed unexpectedly",
        "retryable": True,
    }


def already_connected_problem(email: str) -> Problem:
    return {
        "service": "PERCH",
        "code": "MAILBOX_ALREADY_CONNECTED",
        "stage": "store",
        "server": None,
        "reply": None,
        "hint": "the mailbox was connected another way while this batch ran",
        "message": f"{email} is already connected to this account",
        "retryable": False,
    }


def aborted_problem() -> Problem:
    return {
        "service": "PERCH",
        "code": "VERIFICATION_ABORTED",
        "stage": "unknown",
        "server": None,
        "reply": None,
        "hint": "Perch gave up verifying after repeated internal errors; submit it again",
        "message": "verification was aborted",
        "retryable": True,
    }
