"""DNS questions through dnspython, asked of ``PERCH_DNS_NAMESERVERS`` (the system resolver when
that is empty).

    resolver = DnsResolver(settings.dns_nameservers, timeout=5.0)
    await resolver.txt("example.com")   -> ["v=spf1 include:spf.protection.outlook.com -all"]

A name that does not exist (NXDOMAIN), has no record of the type asked (NoAnswer) or is not a
valid DNS name is an *answer*: an empty list. Only a question nobody could answer is an error::

    DnsError
    └── DnsUnavailable    timeout, SERVFAIL / every nameserver failed, no resolver configuration

CNAMEs are followed by the resolver: ``txt()`` of an alias returns the target's records.
"""

from __future__ import annotations

from collections.abc import Sequence

import dns.asyncresolver
import dns.exception
import dns.name
import dns.nameserver
import dns.resolver

from perch.server.config import parse_nameserver


class DnsError(Exception):
    """A DNS question could not be answered."""


class DnsUnavailable(DnsError):
    """Transient: the nameservers timed out, failed (SERVFAIL) or are not configured."""


_NO_SUCH_RECORD = (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer, dns.name.NameTooLong)
_BAD_NAME = (
    dns.name.EmptyLabel,
    dns.name.LabelTooLong,
    dns.name.IDNAException,
    dns.exception.SyntaxError,
)


def build_resolver(nameservers: Sequence[str], timeout: float) -> dns.asyncresolver.Resolver:
    """A resolver for ``host[:port]`` nameservers, or the system's configuration when empty."""
    if nameservers:
        resolver = dns.asyncresolver.Resolver(configure=False)
        resolver.nameservers = [
            dns.nameserver.Do53Nameserver(*parse_nameserver(item)) for item in nameservers
        ]
    else:
        resolver = dns.asyncresolver.Resolver(configure=True)
    resolver.lifetime = timeout
    resolver.timeout = timeout
    resolver.cache = None
    return resolver


class DnsResolver:
    def __init__(self, nameservers: Sequence[str], *, timeout: float) -> None:
        self._nameservers = list(nameservers)
        self._timeout = timeout
        self._resolver: dns.asyncresolver.Resolver | None = None

    def _get(self) -> dns.asyncresolver.Resolver:
        if self._resolver is None:
            try:
                self._resolver = build_resolver(self._nameservers, self._timeout)
            except dns.resolver.NoResolverConfiguration as e:
                raise DnsUnavailable("no DNS resolver is configured") from e
        return self._resolver

    async def txt(self, name: str) -> list[str]:
        """Every TXT record at ``name``, each one's strings joined (RFC 7208 3.3)."""
        try:
            answer = await self._get().resolve(name, "TXT", search=False)
        except _NO_SUCH_RECORD + _BAD_NAME:
            return []
        except dns.exception.DNSException as e:
            raise DnsUnavailable(f"TXT {name}: {type(e).__name__}") from e
        return [b"".join(rdata.strings).decode("utf-8", "replace") for rdata in answer]
