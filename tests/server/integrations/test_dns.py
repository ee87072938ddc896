"""DnsResolver against the sandbox DNS: answers, empty answers, and what is an error."""

from __future__ import annotations

import pytest

from perch.sandbox import SandboxDNS
from perch.server.integrations.dns import DnsResolver, DnsUnavailable

ZONE = """
example.test. 300 IN TXT "v=spf1 -all"
example.test. 300 IN TXT "part one; " "part two"
alias.example.test. 300 IN CNAME example.test.
example.test. 300 IN A 192.0.2.1
"""


@pytest.fixture
def resolver(dns_server: SandboxDNS) -> DnsResolver:
    dns_server.set_zone(ZONE)
    return DnsResolver([dns_server.nameserver], timeout=0.5)


async def test_txt_joins_strings_and_follows_cnames(resolver: DnsResolver) -> None:
    expected = ["v=spf1 -all", "part one; part two"]
    assert sorted(await resolver.txt("example.test")) == sorted(expected)
    assert sorted(await resolver.txt("alias.example.test")) == sorted(expected)


@pytest.mark.parametrize("name", ["missing.example.test", "a" * 64 + ".test", "x..test"])
async def test_no_such_record_or_name_is_an_empty_answer(resolver: DnsResolver, name: str) -> None:
    assert await resolver.txt(name) == []


async def test_servfail_and_silence_are_unavailable(
    resolver: DnsResolver, dns_server: SandboxDNS
) -> None:
    dns_server.servfail = True
    with pytest.raises(DnsUnavailable):
        await resolver.txt("example.test")
    dns_server.servfail = False
    dns_server.drop = True
    with pytest.raises(DnsUnavailable):
        await resolver.txt("example.test")
