"""check / check_domains: both answers for a domain, each domain asked once."""

from __future__ import annotations

from perch.sandbox import SandboxDNS
from perch.server.deliverability import service
from perch.server.deliverability.schemas import DeliverabilityRead
from perch.server.integrations.dns import DnsResolver
from tests.server.deliverability.test_dkim import CNAMES

GOOD = 'example.test. 300 IN TXT "v=spf1 include:spf.protection.outlook.com -all"\n' + CNAMES
SPF_ONLY = 'spf-only.test. 300 IN TXT "v=spf1 include:spf.protection.outlook.com -all"'


async def test_check_reports_both(dns_server: SandboxDNS, resolver: DnsResolver) -> None:
    dns_server.set_zone(GOOD + SPF_ONLY)
    report = await service.check(resolver, "example.test", service.MICROSOFT_365)
    assert report == DeliverabilityRead(spf_correct=True, dkim_correct=True)
    report = await service.check(resolver, "spf-only.test", service.MICROSOFT_365)
    assert report == DeliverabilityRead(spf_correct=True, dkim_correct=False)


async def test_check_domains(dns_server: SandboxDNS, resolver: DnsResolver) -> None:
    dns_server.set_zone(GOOD + SPF_ONLY)
    reports = await service.check_domains(
        resolver,
        ["example.test", "spf-only.test", "example.test", "nothing.test"],
        service.MICROSOFT_365,
    )
    assert reports == {
        "example.test": DeliverabilityRead(spf_correct=True, dkim_correct=True),
        "spf-only.test": DeliverabilityRead(spf_correct=True, dkim_correct=False),
        "nothing.test": DeliverabilityRead(spf_correct=False, dkim_correct=False),
    }


async def test_an_unreachable_nameserver_is_false_for_both() -> None:
    resolver = DnsResolver(["127.0.0.1:9"], timeout=0.3)
    report = await service.check(resolver, "example.test", service.MICROSOFT_365)
    assert report == DeliverabilityRead(spf_correct=False, dkim_correct=False)


def test_domain_of() -> None:
    assert service.domain_of("Jim@Example.COM") == "example.com"
