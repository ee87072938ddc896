"""Deliverability checks for a sending domain, for one provider's profile.

    resolver = deliverability_service.resolver_for(runtime)
    report = await deliverability_service.check(resolver, "example.com", MICROSOFT_365)
    report.spf_correct, report.dkim_correct

``check_domains`` checks several domains at once (each once), for batches of mailboxes.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import dataclass

import structlog

from perch.server.deliverability import dkim, spf
from perch.server.deliverability.schemas import DeliverabilityRead
from perch.server.integrations.dns import DnsResolver
from perch.server.runtime import Runtime

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class Profile:
    """What a provider needs in its customers' DNS."""

    name: str
    spf_include: str
    dkim_selectors: tuple[str, ...]


MICROSOFT_365 = Profile("microsoft_365", "spf.protection.outlook.com", ("selector1", "selector2"))


def resolver_for(runtime: Runtime) -> DnsResolver:
    settings = runtime.settings
    return DnsResolver(settings.dns_nameservers, timeout=settings.dns_timeout.total_seconds())


def domain_of(email: str) -> str:
    return email.rpartition("@")[2].rstrip(".").lower()


async def check(resolver: DnsResolver, domain: str, profile: Profile) -> DeliverabilityRead:
    spf_ok, dkim_ok = await asyncio.gather(
        spf.authorizes(domain, profile.spf_include, resolver.txt),
        dkim.published(domain, profile.dkim_selectors, resolver.txt),
    )
    log.info("deliverability.checked", domain=domain, spf=spf_ok, dkim=dkim_ok)
    return DeliverabilityRead(spf_correct=spf_ok, dkim_correct=dkim_ok)


async def check_domains(
    resolver: DnsResolver, domains: Iterable[str], profile: Profile
) -> dict[str, DeliverabilityRead]:
    unique = sorted(set(domains))
    reports = await asyncio.gather(*(check(resolver, d, profile) for d in unique))
    return dict(zip(unique, reports, strict=True))
