"""SPF: does the domain's policy pass Microsoft 365's servers? Against the sandbox DNS."""

from __future__ import annotations

import itertools

import pytest

from perch.sandbox import SandboxDNS
from perch.server.deliverability import spf
from perch.server.integrations.dns import DnsResolver

MS = "spf.protection.outlook.com"


def _zone(records: dict[str, list[str]]) -> str:
    lines = []
    for name, texts in records.items():
        lines.extend(f'{name}. 300 IN TXT "{text}"' for text in texts)
    return "\n".join(lines)


async def _authorizes(
    dns: SandboxDNS, resolver: DnsResolver, records: dict[str, list[str]]
) -> bool:
    dns.set_zone(_zone(records))
    return await spf.authorizes("example.test", MS, resolver.txt)


@pytest.mark.parametrize(
    "policy",
    [
        "v=spf1 include:spf.protection.outlook.com -all",
        "v=spf1 ip4:192.0.2.0/24 mx include:SPF.Protection.Outlook.com. ~all",
        "v=spf1 +include:spf.protection.outlook.com",
        "v=spf1 -ip4:192.0.2.1 include:spf.protection.outlook.com -all exp=why.example.test",
    ],
)
async def test_a_direct_include_authorizes(
    dns_server: SandboxDNS, resolver: DnsResolver, policy: str
) -> None:
    assert await _authorizes(dns_server, resolver, {"example.test": [policy]})


@pytest.mark.parametrize(
    "policy",
    [
        "v=spf1 include:_spf.google.com -all",
        "v=spf1 -all include:spf.protection.outlook.com",  # terms after all are never reached
        "v=spf1 ~include:spf.protection.outlook.com -all",
        "v=spf1 -include:spf.protection.outlook.com +all",
        "v=spf1 ?include:spf.protection.outlook.com",
        "v=spf1 include:spf.protection.outlook.com.evil.test -all",
        "v=spf10 include:spf.protection.outlook.com -all",
        "v=spf1 include:spf.protection.outlook.com bogus:thing -all",  # unknown mechanism
        "spf.protection.outlook.com",
    ],
)
async def test_policies_that_do_not_authorize(
    dns_server: SandboxDNS, resolver: DnsResolver, policy: str
) -> None:
    records = {"example.test": [policy], "_spf.google.com": ["v=spf1 ip4:198.51.100.0/24 -all"]}
    assert not await _authorizes(dns_server, resolver, records)


async def test_no_record_and_two_records_are_false(
    dns_server: SandboxDNS, resolver: DnsResolver
) -> None:
    assert not await _authorizes(dns_server, resolver, {"other.test": ["v=spf1 -all"]})
    two = ["v=spf1 include:spf.protection.outlook.com -all", "v=spf1 -all"]
    assert not await _authorizes(dns_server, resolver, {"example.test": two})


async def test_unrelated_txt_records_are_ignored(
    dns_server: SandboxDNS, resolver: DnsResolver
) -> None:
    records = {
        "example.test": [
            "google-site-verification=abc",
            "v=spf1 include:spf.protection.outlook.com -all",
        ]
    }
    assert await _authorizes(dns_server, resolver, records)


async def test_nested_includes_are_followed(dns_server: SandboxDNS, resolver: DnsResolver) -> None:
    records = {
        "example.test": ["v=spf1 include:_spf.example.test -all"],
        "_spf.example.test": ["v=spf1 ip4:192.0.2.1 include:_ms.example.test ~all"],
        "_ms.example.test": ["v=spf1 include:spf.protection.outlook.com -all"],
    }
    assert await _authorizes(dns_server, resolver, records)


async def test_a_nested_record_that_fails_microsoft_does_not_match(
    dns_server: SandboxDNS, resolver: DnsResolver
) -> None:
    records = {
        "example.test": ["v=spf1 include:_spf.example.test include:_ms.example.test -all"],
        "_spf.example.test": ["v=spf1 -include:spf.protection.outlook.com"],
        "_ms.example.test": ["v=spf1 include:spf.protection.outlook.com -all"],
    }
    # _spf fails Microsoft, so that include does not match and the next one passes it.
    assert await _authorizes(dns_server, resolver, records)


async def test_a_nested_softfail_include_fails(
    dns_server: SandboxDNS, resolver: DnsResolver
) -> None:
    records = {
        "example.test": ["v=spf1 ~include:_ms.example.test -all"],
        "_ms.example.test": ["v=spf1 include:spf.protection.outlook.com -all"],
    }
    assert not await _authorizes(dns_server, resolver, records)


async def test_an_include_without_a_record_is_a_permanent_error(
    dns_server: SandboxDNS, resolver: DnsResolver
) -> None:
    records = {
        "example.test": ["v=spf1 include:missing.example.test include:_ms.example.test -all"],
        "_ms.example.test": ["v=spf1 include:spf.protection.outlook.com -all"],
    }
    assert not await _authorizes(dns_server, resolver, records)


async def test_redirect_is_followed_when_there_is_no_all(
    dns_server: SandboxDNS, resolver: DnsResolver
) -> None:
    records = {
        "example.test": ["v=spf1 ip4:192.0.2.1 redirect=_spf.example.test"],
        "_spf.example.test": ["v=spf1 include:spf.protection.outlook.com -all"],
    }
    assert await _authorizes(dns_server, resolver, records)
    records["example.test"] = ["v=spf1 ip4:192.0.2.1 redirect=_spf.example.test -all"]
    assert not await _authorizes(dns_server, resolver, records)


def _chain(length: int) -> dict[str, list[str]]:
    """example.test -> l1 -> ... -> l<length> -> Microsoft: length + 1 include lookups."""
    names = ["example.test", *(f"l{i}.example.test" for i in range(1, length + 1))]
    records = {name: [f"v=spf1 include:{nxt} -all"] for name, nxt in itertools.pairwise(names)}
    records[names[-1]] = [f"v=spf1 include:{MS} -all"]
    return records


async def test_ten_lookups_are_allowed(dns_server: SandboxDNS, resolver: DnsResolver) -> None:
    assert await _authorizes(dns_server, resolver, _chain(9))


async def test_the_eleventh_lookup_is_a_permanent_error(
    dns_server: SandboxDNS, resolver: DnsResolver
) -> None:
    assert not await _authorizes(dns_server, resolver, _chain(10))


async def test_a_mx_ptr_exists_count_towards_the_limit(
    dns_server: SandboxDNS, resolver: DnsResolver
) -> None:
    costly = "a mx ptr exists:x.example.test a:b.example.test mx:c.example.test a a a"  # 9
    policy = f"v=spf1 ip4:192.0.2.1 ip6:2001:db8::1 {costly} include:{MS} -all"
    assert await _authorizes(dns_server, resolver, {"example.test": [policy]})
    policy = f"v=spf1 {costly} a include:{MS} -all"
    assert not await _authorizes(dns_server, resolver, {"example.test": [policy]})


async def test_an_include_loop_ends_at_the_limit(
    dns_server: SandboxDNS, resolver: DnsResolver
) -> None:
    records = {
        "example.test": ["v=spf1 include:loop.example.test -all"],
        "loop.example.test": ["v=spf1 include:example.test -all"],
    }
    assert not await _authorizes(dns_server, resolver, records)


async def test_dns_failure_is_false_not_an_exception(
    dns_server: SandboxDNS, resolver: DnsResolver
) -> None:
    dns_server.set_zone(_zone({"example.test": [f"v=spf1 include:{MS} -all"]}))
    dns_server.servfail = True
    assert not await spf.authorizes("example.test", MS, resolver.txt)
    dns_server.servfail = False
    dns_server.drop = True
    quick = DnsResolver([dns_server.nameserver], timeout=0.2)
    assert not await spf.authorizes("example.test", MS, quick.txt)


def test_terms_parse() -> None:
    assert spf.parse_term("-ip4:192.0.2.0/24") == spf.Term("-", "ip4", "192.0.2.0/24")
    assert spf.parse_term("a/24") == spf.Term("+", "a", "/24")
    assert spf.parse_term("Redirect=_spf.x") == spf.Term("=", "redirect", "_spf.x")
    for broken in ("-redirect=x", "include", "include:", "foo:bar", "=x"):
        with pytest.raises(spf.PermError):
            spf.parse_term(broken)
