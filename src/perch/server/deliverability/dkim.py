"""Are a provider's DKIM selectors published for a domain? (RFC 6376 3.6.1 key records)

``<selector>._domainkey.<domain>`` must resolve, directly (TXT) or through a CNAME to the
provider's key (Microsoft 365 publishes ``selector1``/``selector2`` as CNAMEs into the tenant's
``onmicrosoft.com`` zone), to a record with ``v=DKIM1`` and a non-empty public key ``p=``
(an empty ``p=`` means a revoked key). Every selector must pass.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from perch.server.deliverability.spf import TxtLookup
from perch.server.integrations.dns import DnsError


def tags(record: str) -> dict[str, str]:
    """``v=DKIM1; k=rsa; p=MIG...`` -> {"v": "DKIM1", ...}; whitespace inside values dropped."""
    out: dict[str, str] = {}
    for part in record.split(";"):
        name, sep, value = part.partition("=")
        if sep and name.strip():
            out.setdefault(name.strip().lower(), "".join(value.split()))
    return out


def is_key_record(record: str) -> bool:
    found = tags(record)
    return found.get("v") == "DKIM1" and bool(found.get("p"))


async def selector_published(domain: str, selector: str, lookup: TxtLookup) -> bool:
    try:
        records = await lookup(f"{selector}._domainkey.{domain}")
    except DnsError:
        return False
    return any(is_key_record(record) for record in records)


async def published(domain: str, selectors: Sequence[str], lookup: TxtLookup) -> bool:
    """True when every selector has a usable key record; never raises."""
    found = await asyncio.gather(*(selector_published(domain, s, lookup) for s in selectors))
    return bool(found) and all(found)
