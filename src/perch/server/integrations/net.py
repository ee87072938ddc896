"""Where Perch may connect: the one address policy for user-supplied hosts.

Mail servers and tracking domains come from users. Resolving them and connecting blindly would
let a caller make Perch probe its own network (loopback, private ranges, cloud metadata). So:

    resolve(host)          -> every address the name has (A and AAAA)
    check_address(ip)      -> refuses loopback, private, link-local, multicast, reserved,
                              unspecified and IPv4-mapped forms of those, unless the address is
                              inside PERCH_ALLOWED_NETWORKS
    resolve_allowed(host)  -> the allowed addresses, in resolver order; connect to one of these
                              (never to the name again, so a second lookup cannot change the
                              answer between the check and the connection)

Exceptions::

    AddressError
    ├── HostNotFound      the name does not resolve (NXDOMAIN, no addresses)
    └── HostNotAllowed    every address is in a refused range
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Sequence

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


class AddressError(Exception):
    def __init__(self, host: str, message: str) -> None:
        self.host = host
        super().__init__(message)


class HostNotFound(AddressError):
    """The host name does not resolve."""


class HostNotAllowed(AddressError):
    """The host resolves only to addresses Perch refuses to connect to."""


def _unmapped(address: IPAddress) -> IPAddress:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def is_public(address: IPAddress) -> bool:
    plain = _unmapped(address)
    return not (
        plain.is_loopback
        or plain.is_private
        or plain.is_link_local
        or plain.is_multicast
        or plain.is_reserved
        or plain.is_unspecified
        or not plain.is_global
    )


def is_allowed(address: IPAddress, allowed: Sequence[IPNetwork]) -> bool:
    plain = _unmapped(address)
    if any(plain in network or address in network for network in allowed):
        return True
    return is_public(address)


async def resolve(host: str, port: int) -> list[IPAddress]:
    """Every address of ``host`` (a literal IP resolves to itself), without duplicates."""
    try:
        return [ipaddress.ip_address(host.strip("[]"))]
    except ValueError:
        pass
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as e:
        raise HostNotFound(host, f"{host} does not resolve") from e
    addresses = [ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos]
    if not addresses:
        raise HostNotFound(host, f"{host} has no addresses")
    return list(dict.fromkeys(addresses))


async def resolve_allowed(host: str, port: int, allowed: Sequence[IPNetwork]) -> list[IPAddress]:
    """The addresses of ``host`` Perch may connect to; ``HostNotAllowed`` when there are none."""
    addresses = await resolve(host, port)
    permitted = [address for address in addresses if is_allowed(address, allowed)]
    if not permitted:
        shown = ", ".join(str(a) for a in addresses)
        raise HostNotAllowed(
            host,
            f"{host} resolves to {shown}, a loopback, private or reserved address "
            "(allow it with PERCH_ALLOWED_NETWORKS)",
        )
    return permitted
