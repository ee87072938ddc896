"""SandboxDNS through dnspython's async resolver: records, CNAMEs, negatives, faults."""

from __future__ import annotations

import socket
import time

import dns.asyncresolver
import dns.resolver
import pytest

from perch.sandbox import SandboxDNS

ZONE = """
example.test. 300 IN A 192.0.2.10
example.test. 300 IN AAAA 2001:db8::10
example.test. 300 IN TXT "v=spf1 include:spf.protection.outlook.com -all"
example.test. 300 IN MX 10 mail.example.test.
example.test. 300 IN MX 20 backup.example.test.
selector1._domainkey.example.test. 300 IN CNAME s1-example-test._domainkey.tenant.onmicrosoft.test.
s1-example-test._domainkey.tenant.onmicrosoft.test. 300 IN TXT "v=DKIM1; k=rsa; p=MIGf"
selector2._domainkey.example.test. 300 IN TXT "v=DKIM1; k=rsa; " "p=second-chunk"
"""


def _resolver(server: SandboxDNS, lifetime: float = 2.0) -> dns.asyncresolver.Resolver:
    resolver = dns.asyncresolver.Resolver(configure=False)
    resolver.nameservers = [server.host]
    resolver.port = server.port
    resolver.lifetime = lifetime
    resolver.cache = None
    return resolver


async def _txt(server: SandboxDNS, name: str, tcp: bool = False) -> list[str]:
    answer = await _resolver(server).resolve(name, "TXT", tcp=tcp)
    return [b"".join(rdata.strings).decode() for rdata in answer]


@pytest.fixture
def zone_dns(dns_server: SandboxDNS) -> SandboxDNS:
    dns_server.set_zone(ZONE)
    return dns_server


def test_nameserver_is_host_and_port(dns_server: SandboxDNS) -> None:
    assert dns_server.nameserver == f"127.0.0.1:{dns_server.port}"


@pytest.mark.parametrize("tcp", [False, True])
async def test_txt_record_over_udp_and_tcp(zone_dns: SandboxDNS, tcp: bool) -> None:
    spf = await _txt(zone_dns, "example.test", tcp=tcp)
    assert spf == ["v=spf1 include:spf.protection.outlook.com -all"]


async def test_multi_string_txt_joins_to_one_value(zone_dns: SandboxDNS) -> None:
    answer = await _resolver(zone_dns).resolve("selector2._domainkey.example.test", "TXT")
    [rdata] = list(answer)
    assert rdata.strings == (b"v=DKIM1; k=rsa; ", b"p=second-chunk")


async def test_cname_inside_the_zone_is_followed(zone_dns: SandboxDNS) -> None:
    answer = await _resolver(zone_dns).resolve("selector1._domainkey.example.test", "TXT")
    assert str(answer.canonical_name) == "s1-example-test._domainkey.tenant.onmicrosoft.test."
    assert [b"".join(r.strings) for r in answer] == [b"v=DKIM1; k=rsa; p=MIGf"]


async def test_cname_query_returns_the_cname_itself(zone_dns: SandboxDNS) -> None:
    answer = await _resolver(zone_dns).resolve("selector1._domainkey.example.test", "CNAME")
    assert [str(r.target) for r in answer] == [
        "s1-example-test._domainkey.tenant.onmicrosoft.test."
    ]


async def test_mx_a_and_aaaa(zone_dns: SandboxDNS) -> None:
    resolver = _resolver(zone_dns)
    mx = await resolver.resolve("example.test", "MX")
    assert sorted((r.preference, str(r.exchange)) for r in mx) == [
        (10, "mail.example.test."),
        (20, "backup.example.test."),
    ]
    assert [r.address for r in await resolver.resolve("example.test", "A")] == ["192.0.2.10"]
    assert [r.address for r in await resolver.resolve("example.test", "AAAA")] == ["2001:db8::10"]


async def test_unknown_name_is_nxdomain(zone_dns: SandboxDNS) -> None:
    with pytest.raises(dns.resolver.NXDOMAIN):
        await _resolver(zone_dns).resolve("missing.example.test", "TXT")


async def test_known_name_without_that_type_is_no_answer(zone_dns: SandboxDNS) -> None:
    with pytest.raises(dns.resolver.NoAnswer):
        await _resolver(zone_dns).resolve("selector2._domainkey.example.test", "MX")


async def test_name_with_records_below_it_is_no_answer(zone_dns: SandboxDNS) -> None:
    with pytest.raises(dns.resolver.NoAnswer):
        await _resolver(zone_dns).resolve("_domainkey.example.test", "TXT")


async def test_names_are_case_insensitive(zone_dns: SandboxDNS) -> None:
    assert await _txt(zone_dns, "EXAMPLE.Test") == await _txt(zone_dns, "example.test")


async def test_set_zone_replaces_and_add_zone_appends(zone_dns: SandboxDNS) -> None:
    zone_dns.set_zone('other.test. 60 IN TXT "first"')
    with pytest.raises(dns.resolver.NXDOMAIN):
        await _resolver(zone_dns).resolve("example.test", "TXT")
    zone_dns.add_zone('other.test. 60 IN TXT "second"')
    assert sorted(await _txt(zone_dns, "other.test")) == ["first", "second"]


async def test_servfail(zone_dns: SandboxDNS) -> None:
    zone_dns.servfail = True
    with pytest.raises(dns.resolver.NoNameservers, match="SERVFAIL"):
        await _resolver(zone_dns).resolve("example.test", "TXT")


async def test_drop_makes_the_client_time_out(zone_dns: SandboxDNS) -> None:
    zone_dns.drop = True
    with pytest.raises(dns.resolver.LifetimeTimeout):
        await _resolver(zone_dns, lifetime=0.3).resolve("example.test", "TXT")


async def test_latency_delays_the_answer(zone_dns: SandboxDNS) -> None:
    zone_dns.latency = 0.2
    started = time.monotonic()
    assert await _txt(zone_dns, "example.test")
    assert time.monotonic() - started >= 0.2


async def test_async_context_manager_releases_the_ports() -> None:
    async with SandboxDNS("a.test. 60 IN A 192.0.2.1") as server:
        port = server.port
        answer = await _resolver(server).resolve("a.test", "A")
        assert [r.address for r in answer] == ["192.0.2.1"]
    with pytest.raises(RuntimeError, match="not started"):
        _ = server.port
    for kind in (socket.SOCK_DGRAM, socket.SOCK_STREAM):
        with socket.socket(socket.AF_INET, kind) as sock:
            sock.bind(("127.0.0.1", port))  # raises if the server still held it
