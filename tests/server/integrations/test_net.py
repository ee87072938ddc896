"""The address policy: refused ranges, the allow-list, IPv4-mapped IPv6, literal IPs."""

from __future__ import annotations

import ipaddress

import pytest

from perch.server.integrations.net import HostNotAllowed, HostNotFound, is_allowed, resolve_allowed

REFUSED = [
    "127.0.0.1",
    "10.1.2.3",
    "172.16.0.1",
    "192.168.1.1",
    "169.254.169.254",
    "0.0.0.0",
    "224.0.0.1",
    "240.0.0.1",
    "100.64.0.1",
    "::1",
    "fe80::1",
    "fc00::1",
    "ff02::1",
    "::",
    "::ffff:127.0.0.1",
    "::ffff:10.0.0.1",
]


@pytest.mark.parametrize("address", REFUSED)
def test_non_public_ranges_are_refused(address: str) -> None:
    assert not is_allowed(ipaddress.ip_address(address), [])


@pytest.mark.parametrize("address", ["8.8.8.8", "2001:4860:4860::8888", "::ffff:8.8.8.8"])
def test_public_addresses_are_allowed(address: str) -> None:
    assert is_allowed(ipaddress.ip_address(address), [])


def test_allowed_networks_open_a_range() -> None:
    allowed = [ipaddress.ip_network("127.0.0.0/8")]
    assert is_allowed(ipaddress.ip_address("127.0.0.1"), allowed)
    assert is_allowed(ipaddress.ip_address("::ffff:127.0.0.1"), allowed)
    assert not is_allowed(ipaddress.ip_address("10.0.0.1"), allowed)


async def test_resolve_allowed_checks_after_resolution() -> None:
    with pytest.raises(HostNotAllowed, match="PERCH_ALLOWED_NETWORKS"):
        await resolve_allowed("localhost", 25, [])
    addresses = await resolve_allowed(
        "localhost", 25, [ipaddress.ip_network("127.0.0.0/8"), ipaddress.ip_network("::1/128")]
    )
    assert ipaddress.ip_address("127.0.0.1") in addresses


async def test_unresolvable_names() -> None:
    with pytest.raises(HostNotFound):
        await resolve_allowed("no-such-host.invalid", 25, [])
