from __future__ import annotations

import pytest

from perch.sandbox import SandboxDNS
from perch.server.integrations.dns import DnsResolver


@pytest.fixture
def resolver(dns_server: SandboxDNS) -> DnsResolver:
    return DnsResolver([dns_server.nameserver], timeout=1.0)
