"""Reaching a mail server: the address policy, a TCP socket, fast answers to wrong TLS modes.

What the SMTP and IMAP adapters share::

    MailServer(host, port, security)     where to connect and how to start TLS
    security_for_port(port, implicit)    465 / 993 -> implicit TLS, anything else -> STARTTLS
    pin(protocol, server, allowed, ...)  the addresses to connect to; the address policy of
                                         ``integrations.net`` applies unless ``allowed`` is None
                                         (an operator-configured host, e.g. the system SMTP)
    open_socket(protocol, server, ...)   a connected, non-blocking TCP socket to a pinned address
    await_greeting(protocol, sock, ...)  for a plaintext start: returns once the server speaks;
                                         if it stays silent, a TLS handshake on a second
                                         connection tells "this is an implicit-TLS port" within
                                         about a second instead of a long timeout (skipped for
                                         endpoints a connector already saw greeting: Greeters)
    tls_error(protocol, server, error)   an ``ssl.SSLError`` as a MailError with a hint

Implicit TLS against a STARTTLS port needs no probe: the server greets in plaintext and the
handshake fails at once (``WRONG_VERSION_NUMBER``), which ``tls_error`` reports as a mode
mismatch.

Error tree (codes are prefixed with the protocol, e.g. ``SMTP_TIMEOUT``; DNS and policy codes
are not)::

    MailError                 .code .stage .reply (the server's own words) .hint .server
    ├── MailTransient         may work later: timeouts, refused or reset connections, 4xx
    └── MailPermanent         will fail the same way again: DNS_NOT_FOUND, HOST_NOT_ALLOWED,
                              TLS and certificate failures, wrong TLS mode, refused logins, 5xx
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from urllib.parse import urlparse

from perch.server.integrations import net

IPAddress = net.IPAddress
IPNetwork = net.IPNetwork
PROBE_AFTER = 1.0  # seconds of silence after which a plaintext start probes for TLS
IMPLICIT_TLS_PORTS = {"SMTP": 465, "IMAP": 993}
STARTTLS_PORTS = {"SMTP": 587, "IMAP": 143}
_NOT_TLS = {"WRONG_VERSION_NUMBER", "UNKNOWN_PROTOCOL", "HTTP_REQUEST", "RECORD_LAYER_FAILURE"}


class Security(StrEnum):
    implicit_tls = "IMPLICIT_TLS"  # TLS from the first byte (465, 993)
    starttls = "STARTTLS"  # plaintext start, upgraded when the server offers STARTTLS
    starttls_required = "STARTTLS_REQUIRED"  # plaintext start, fail unless STARTTLS works


@dataclass(frozen=True)
class MailServer:
    host: str  # as the user gave it: certificates are checked against this name
    port: int
    security: Security

    def __str__(self) -> str:
        return f"{self.host}:{self.port}"


def security_for_port(protocol: str, port: int) -> Security:
    if port == IMPLICIT_TLS_PORTS[protocol]:
        return Security.implicit_tls
    return Security.starttls


class MailError(Exception):
    retryable = False

    def __init__(
        self,
        code: str,
        stage: str,
        message: str,
        *,
        server: str | None = None,
        reply: str | None = None,
        hint: str | None = None,
    ) -> None:
        self.code = code
        self.stage = stage
        self.message = message
        self.server = server
        self.reply = reply
        self.hint = hint
        super().__init__(message)


class MailTransient(MailError):
    retryable = True


class MailPermanent(MailError):
    retryable = False


def by_reply_code(code: int) -> type[MailError]:
    """4xx means "try later", everything else is final."""
    return MailTransient if 400 <= code < 500 else MailPermanent


async def pin(
    protocol: str,
    server: MailServer,
    allowed: Sequence[IPNetwork] | None,
    timeout: float,
) -> list[IPAddress]:
    """The addresses of ``server.host`` to connect to (``allowed=None``: no address policy)."""
    where = str(server)
    try:
        async with asyncio.timeout(timeout):
            if allowed is None:
                return await net.resolve(server.host, server.port)
            return await net.resolve_allowed(server.host, server.port, allowed)
    except net.HostNotFound as e:
        hint = f"check the spelling of the {protocol} server name {server.host!r}"
        raise MailPermanent("DNS_NOT_FOUND", "dns", str(e), server=where, hint=hint) from e
    except net.HostNotAllowed as e:
        hint = (
            "the host resolves only to loopback, private or reserved addresses; an operator "
            "can allow such networks with PERCH_ALLOWED_NETWORKS"
        )
        raise MailPermanent("HOST_NOT_ALLOWED", "dns", str(e), server=where, hint=hint) from e
    except TimeoutError as e:
        message = f"looking up {server.host} took longer than {timeout:g} s"
        raise MailTransient("DNS_TIMEOUT", "dns", message, server=where) from e


async def open_socket(
    protocol: str, server: MailServer, addresses: Sequence[IPAddress], timeout: float
) -> socket.socket:
    """A connected non-blocking socket to the first address that accepts."""
    error: MailError | None = None
    for address in addresses:
        try:
            return await _connect(address, server.port, timeout)
        except TimeoutError as e:
            error = _tcp_timeout(protocol, server, timeout)
            error.__cause__ = e
        except ConnectionRefusedError as e:
            error = _refused(protocol, server)
            error.__cause__ = e
        except OSError as e:
            error = MailTransient(
                f"{protocol}_CONNECTION_FAILED",
                "tcp",
                f"cannot reach {server}: {e.strerror or e}",
                server=str(server),
                hint="check the host name and port, and that this machine can reach the server",
            )
            error.__cause__ = e
    assert error is not None, "no addresses to connect to"
    raise error


async def _connect(address: IPAddress, port: int, timeout: float) -> socket.socket:
    family = socket.AF_INET6 if address.version == 6 else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setblocking(False)
    try:
        async with asyncio.timeout(timeout):
            await asyncio.get_running_loop().sock_connect(sock, (str(address), port))
    except BaseException:
        sock.close()
        raise
    return sock


def _tcp_timeout(protocol: str, server: MailServer, timeout: float) -> MailError:
    return MailTransient(
        f"{protocol}_TIMEOUT",
        "tcp",
        f"no answer from {server} within {timeout:g} s",
        server=str(server),
        hint="check the host and port; a firewall may be dropping the connection",
    )


def _refused(protocol: str, server: MailServer) -> MailError:
    return MailTransient(
        f"{protocol}_CONNECTION_REFUSED",
        "tcp",
        f"{server} refused the connection",
        server=str(server),
        hint=f"nothing listens on port {server.port}: check the port number",
    )


class Greeters:
    """Endpoints (address, port) seen greeting in plaintext. A silent connection to one of them
    is a slow server, not a TLS port: no probe, so a busy server verified for many mailboxes
    at once does not get a second connection for each of them."""

    def __init__(self) -> None:
        self._seen: set[tuple[str, int]] = set()

    def saw(self, address: IPAddress, port: int) -> None:
        self._seen.add((str(address), port))

    def known(self, address: IPAddress, port: int) -> bool:
        return (str(address), port) in self._seen


async def await_greeting(
    protocol: str,
    sock: socket.socket,
    server: MailServer,
    address: IPAddress,
    ssl_context: ssl.SSLContext,
    timeout: float,
    greeters: Greeters | None = None,
) -> None:
    """Return once the server has sent something on a plaintext connection.

    Raises ``<P>_TLS_MODE_MISMATCH`` when the port turns out to expect implicit TLS and
    ``<P>_TIMEOUT`` (stage ``greeting``) when the server stays silent.
    """
    greeters = greeters or Greeters()
    quiet = min(PROBE_AFTER, timeout)
    if await _readable(sock, quiet):
        greeters.saw(address, server.port)
        return
    remaining = max(timeout - quiet, 0.1)
    if greeters.known(address, server.port):
        if await _readable(sock, remaining):
            return
        raise _silent(protocol, server, timeout)
    speaks = asyncio.create_task(_readable(sock, remaining))
    probe = asyncio.create_task(_speaks_tls(address, server, ssl_context, remaining))
    try:
        done, _ = await asyncio.wait({speaks, probe}, return_when=asyncio.FIRST_COMPLETED)
        if probe in done and probe.result():
            raise implicit_port_error(protocol, server)
        if await speaks:
            greeters.saw(address, server.port)
            return
    finally:
        for task in (speaks, probe):
            task.cancel()
        await asyncio.gather(speaks, probe, return_exceptions=True)
    raise _silent(protocol, server, timeout)


def _silent(protocol: str, server: MailServer, timeout: float) -> MailError:
    return MailTransient(
        f"{protocol}_TIMEOUT",
        "greeting",
        f"{server} accepted the connection but sent no greeting within {timeout:g} s",
        server=str(server),
        hint="the server is very slow or this port is not a mail port",
    )


async def _readable(sock: socket.socket, timeout: float) -> bool:
    """True once the socket has data (or the peer closed), without consuming anything."""
    loop = asyncio.get_running_loop()
    ready: asyncio.Future[None] = loop.create_future()

    def wake() -> None:
        if not ready.done():
            ready.set_result(None)

    loop.add_reader(sock.fileno(), wake)
    try:
        async with asyncio.timeout(timeout):
            await ready
        return True
    except TimeoutError:
        return False
    finally:
        loop.remove_reader(sock.fileno())


async def _speaks_tls(
    address: IPAddress, server: MailServer, ssl_context: ssl.SSLContext, timeout: float
) -> bool:
    """Does a second connection to the same port complete a TLS handshake?"""
    try:
        async with asyncio.timeout(timeout):
            _, writer = await asyncio.open_connection(
                str(address), server.port, ssl=ssl_context, server_hostname=server.host
            )
    except ssl.SSLCertVerificationError:
        return True  # it sent a certificate: it speaks TLS
    except (OSError, TimeoutError):
        return False
    writer.transport.abort()
    return True


def implicit_port_error(protocol: str, server: MailServer) -> MailError:
    implicit, starttls = IMPLICIT_TLS_PORTS[protocol], STARTTLS_PORTS[protocol]
    return MailPermanent(
        f"{protocol}_TLS_MODE_MISMATCH",
        "greeting",
        f"{server} expects TLS from the first byte (implicit TLS) but was reached in plaintext",
        server=str(server),
        hint=(
            f"port {server.port} expects implicit TLS; Perch uses implicit TLS only on port "
            f"{implicit}: use {implicit}, or the server's STARTTLS port (usually {starttls})"
        ),
    )


def tls_error(protocol: str, server: MailServer, error: ssl.SSLError, stage: str) -> MailError:
    """A failed TLS handshake: wrong mode, untrusted or mismatching certificate, or other."""
    where = str(server)
    if isinstance(error, ssl.SSLCertVerificationError):
        message = f"the certificate of {server} was refused: {error.verify_message}"
        hint = certificate_hint(error, server.host)
        return MailPermanent(f"{protocol}_TLS_FAILED", stage, message, server=where, hint=hint)
    if error.reason in _NOT_TLS and stage == "tls":
        implicit = IMPLICIT_TLS_PORTS[protocol]
        return MailPermanent(
            f"{protocol}_TLS_MODE_MISMATCH",
            stage,
            f"{server} answered a TLS handshake in plaintext ({error.reason})",
            server=where,
            hint=(
                f"port {server.port} does not speak implicit TLS: the server greets in "
                f"plaintext and expects STARTTLS; use port {STARTTLS_PORTS[protocol]} "
                f"(Perch starts with implicit TLS only on {implicit})"
            ),
        )
    message = f"TLS with {server} failed: {error.reason or error}"
    hint = "the server's TLS settings are not compatible (protocol version or ciphers)"
    return MailPermanent(f"{protocol}_TLS_FAILED", stage, message, server=where, hint=hint)


def certificate_hint(error: ssl.SSLCertVerificationError, host: str) -> str:
    code = error.verify_code
    if code in (62, 64):  # hostname / IP address mismatch
        return f"the certificate is not valid for {host!r}: use the host name it was issued for"
    if code == 10:
        return "the server's certificate has expired"
    return (
        "certificate is not trusted: if the server uses a private or self-signed CA, "
        "set PERCH_TLS_CA_FILE to a bundle that contains it"
    )


def timeout_error(protocol: str, server: MailServer, stage: str, timeout: float) -> MailError:
    return MailTransient(
        f"{protocol}_TIMEOUT",
        stage,
        f"{server} did not answer within {timeout:g} s ({stage})",
        server=str(server),
        hint="the server is slow or overloaded; try again later",
    )


def disconnected_error(protocol: str, server: MailServer, stage: str, detail: str) -> MailError:
    return MailTransient(
        f"{protocol}_DISCONNECTED",
        stage,
        f"{server} closed the connection ({stage}): {detail}",
        server=str(server),
        hint="the server dropped the connection; it may limit connections or block this address",
    )


def close_quietly(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.close()


def helo_name(public_url: str) -> str:
    """The name to give in EHLO: Perch's public host name when it has one, else localhost."""
    host = urlparse(public_url).hostname or ""
    is_name = "." in host and not host.replace(".", "").isdigit()
    return host if is_name else "localhost"
