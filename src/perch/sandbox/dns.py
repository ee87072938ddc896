"""An authoritative DNS server for tests and demos, on dnslib (UDP and TCP, one port).

The zone is given as zone-file lines with absolute names::

    example.test. 300 IN TXT "v=spf1 include:spf.example.test -all"
    example.test. 300 IN MX 10 mail.example.test.
    s1._domainkey.example.test. 300 IN CNAME s1.dkim.example.test.
    s1.dkim.example.test. 300 IN TXT "v=DKIM1; k=rsa; " "p=MIGf..."

A, AAAA, TXT (one or more strings), CNAME and MX are answered; CNAMEs inside
the zone are followed. What a resolver sees:

* a name with records, but none of the asked type: NOERROR, no answer
  (dnspython ``NoAnswer``)
* a name that is not in the zone (and has no names below it): ``NXDOMAIN``
* ``servfail = True``: SERVFAIL (dnspython ``NoNameservers``)
* ``drop = True``: no reply at all (dnspython ``LifetimeTimeout``)
* ``latency = s``: every reply ``s`` seconds late

dnslib serves from threads, so :meth:`SandboxDNS.start` and
:meth:`SandboxDNS.stop` are plain functions; the object is also a sync and an
async context manager.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from typing import Any

from dnslib import QTYPE, RCODE, RR, DNSLabel, DNSRecord
from dnslib.server import DNSHandler, DNSLogger, DNSServer

_MAX_CNAME_HOPS = 8
_BIND_ATTEMPTS = 5
_POLL_INTERVAL = 0.05  # how fast the serving threads notice stop()

_log = logging.getLogger(__name__)


def parse_zone(text: str) -> list[Any]:
    """Zone-file text to dnslib ``RR`` objects (raises ``dnslib.DNSError`` if malformed)."""
    return list(RR.fromZone(text)) if text.strip() else []


class _ZoneResolver:
    """dnslib resolver over the owner's current records and faults."""

    def __init__(self, owner: SandboxDNS) -> None:
        self._owner = owner

    def resolve(self, request: DNSRecord, handler: DNSHandler) -> DNSRecord:
        reply = request.reply()
        if self._owner.servfail:
            reply.header.rcode = RCODE.SERVFAIL
            return reply
        records = self._owner.records
        for rr in _answers(records, request.q.qname, request.q.qtype):
            reply.add_answer(rr)
        if not reply.rr and not _name_exists(records, request.q.qname):
            reply.header.rcode = RCODE.NXDOMAIN
        return reply


def _answers(records: list[Any], qname: DNSLabel, qtype: int) -> list[Any]:
    """Records of ``qtype`` at ``qname``, preceded by any in-zone CNAME chain."""
    found: list[Any] = []
    name = qname
    for _ in range(_MAX_CNAME_HOPS):
        at_name = [rr for rr in records if rr.rname == name]
        cnames = [rr for rr in at_name if rr.rtype == QTYPE.CNAME]
        if not cnames or qtype == QTYPE.CNAME:
            return found + [rr for rr in at_name if rr.rtype == qtype]
        found.append(cnames[0])
        name = cnames[0].rdata.label
    return found


def _name_exists(records: list[Any], qname: DNSLabel) -> bool:
    """True if ``qname`` owns records or is an ancestor of a name that does."""
    return any(rr.rname == qname or rr.rname.matchSuffix(qname) for rr in records)


class _Handler(DNSHandler):
    """dnslib's handler, plus the owner's ``drop`` and ``latency`` faults."""

    def handle(self) -> None:
        owner: SandboxDNS = self.server.resolver._owner
        if owner.drop:
            return
        if owner.latency > 0:
            time.sleep(owner.latency)
        super().handle()


class SandboxDNS:
    """An authoritative DNS server on ``host``, UDP and TCP on the same free port."""

    def __init__(self, zone: str = "", host: str = "127.0.0.1") -> None:
        self.host = host
        self.records: list[Any] = parse_zone(zone)
        self.latency = 0.0
        self.servfail = False
        self.drop = False
        self._servers: list[Any] = []
        self._threads: list[threading.Thread] = []
        self._port: int | None = None

    @property
    def port(self) -> int:
        """The UDP and TCP port."""
        if self._port is None:
            raise RuntimeError("SandboxDNS is not started")
        return self._port

    @property
    def nameserver(self) -> str:
        """``host:port``, the form ``PERCH_DNS_NAMESERVERS`` takes."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    def set_zone(self, text: str) -> None:
        """Replace every record with those in ``text``."""
        self.records = parse_zone(text)

    def add_zone(self, text: str) -> None:
        """Add the records in ``text`` to the current ones."""
        self.records = self.records + parse_zone(text)

    def start(self) -> None:
        """Bind UDP on a free port, TCP on the same one, and serve both."""
        for attempt in range(_BIND_ATTEMPTS):
            try:
                self._bind()
                break
            except OSError:
                self._close_servers()
                if attempt == _BIND_ATTEMPTS - 1:
                    raise
        for server in self._servers:
            self._serve(server)

    def stop(self) -> None:
        """Stop serving and release the port."""
        for server in self._servers:
            server.server.shutdown()
        for thread in self._threads:
            thread.join()
        self._close_servers()
        self._threads.clear()
        self._port = None

    def __enter__(self) -> SandboxDNS:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    async def __aenter__(self) -> SandboxDNS:
        return self.__enter__()

    async def __aexit__(self, *exc_info: object) -> None:
        self.stop()

    def _bind(self) -> None:
        udp = self._server(0, tcp=False)
        self._servers.append(udp)
        port = udp.server.server_address[1]
        self._servers.append(self._server(port, tcp=True))
        self._port = port

    def _server(self, port: int, *, tcp: bool) -> Any:
        logger = DNSLogger(prefix=False, logf=_log.debug)
        resolver = _ZoneResolver(self)
        return DNSServer(
            resolver, address=self.host, port=port, tcp=tcp, logger=logger, handler=_Handler
        )

    def _serve(self, server: Any) -> None:
        kind = "tcp" if server.server.socket_type == socket.SOCK_STREAM else "udp"
        thread = threading.Thread(
            target=server.server.serve_forever,
            kwargs={"poll_interval": _POLL_INTERVAL},
            name=f"sandbox-dns-{kind}",
            daemon=True,
        )
        thread.start()
        self._threads.append(thread)

    def _close_servers(self) -> None:
        for server in self._servers:
            server.server.server_close()
        self._servers.clear()
