"""DKIM: are Microsoft 365's selectors published? Against the sandbox DNS."""

from __future__ import annotations

import pytest

from perch.sandbox import SandboxDNS
from perch.server.deliverability import dkim
from perch.server.integrations.dns import DnsResolver

SELECTORS = ("selector1", "selector2")
CNAMES = """
selector1._domainkey.example.test. 300 IN CNAME selector1-example-test._domainkey.t.onmicrosoft.test.
selector1-example-test._domainkey.t.onmicrosoft.test. 300 IN TXT "v=DKIM1; k=rsa; p=MIGfMA0GCSqGSIb3"
selector2._domainkey.example.test. 300 IN CNAME selector2-example-test._domainkey.t.onmicrosoft.test.
selector2-example-test._domainkey.t.onmicrosoft.test. 300 IN TXT "v=DKIM1; k=rsa; " "p=MIGfMA0G" "CSqGSIb3"
"""


async def _published(dns: SandboxDNS, resolver: DnsResolver, zone: str) -> bool:
    dns.set_zone(zone)
    return await dkim.published("example.test", SELECTORS, resolver.txt)


async def test_both_selectors_through_cnames(dns_server: SandboxDNS, resolver: DnsResolver) -> None:
    assert await _published(dns_server, resolver, CNAMES)


async def test_both_selectors_as_txt(dns_server: SandboxDNS, resolver: DnsResolver) -> None:
    zone = """
selector1._domainkey.example.test. 300 IN TXT "v=DKIM1; p=AAAA"
selector2._domainkey.example.test. 300 IN TXT "v=DKIM1;k=rsa;p=BB BB"
"""
    assert await _published(dns_server, resolver, zone)


async def test_a_missing_selector_is_false(dns_server: SandboxDNS, resolver: DnsResolver) -> None:
    only_one = "\n".join(line for line in CNAMES.splitlines() if "selector2" not in line)
    assert not await _published(dns_server, resolver, only_one)
    assert await dkim.selector_published("example.test", "selector1", resolver.txt)


async def test_a_cname_to_nowhere_is_false(dns_server: SandboxDNS, resolver: DnsResolver) -> None:
    dangling = "\n".join(line for line in CNAMES.splitlines() if "selector2-" not in line)
    assert not await _published(dns_server, resolver, dangling)


@pytest.mark.parametrize(
    "record",
    [
        "v=DKIM1; k=rsa; p=",  # revoked key
        "v=DKIM1; k=rsa",  # no key at all
        "k=rsa; p=MIGf",  # not a v=DKIM1 record
        "v=DKIM2; p=MIGf",
        "v=spf1 -all",
    ],
)
async def test_records_that_are_not_keys(
    dns_server: SandboxDNS, resolver: DnsResolver, record: str
) -> None:
    zone = f"""
selector1._domainkey.example.test. 300 IN TXT "v=DKIM1; p=AAAA"
selector2._domainkey.example.test. 300 IN TXT "{record}"
"""
    assert not await _published(dns_server, resolver, zone)


async def test_dns_failure_is_false(dns_server: SandboxDNS, resolver: DnsResolver) -> None:
    dns_server.set_zone(CNAMES)
    dns_server.servfail = True
    assert not await dkim.published("example.test", SELECTORS, resolver.txt)


def test_tags() -> None:
    assert dkim.tags("v=DKIM1; k=rsa; p=AB CD\t EF;") == {"v": "DKIM1", "k": "rsa", "p": "ABCDEF"}
