"""``perch sandbox``: local SMTP, IMAP and DNS peers to point a Perch server at.

:func:`run_sandbox` starts a CA, an SMTP server, an IMAP server and a DNS
server on loopback, creates two demo mailboxes, prints the settings and the
request bodies to use, and serves until it is cancelled (Ctrl+C in the CLI).
Besides printing, it writes into ``state_dir``:

* ``ca.pem``: the CA bundle (``PERCH_TLS_CA_FILE``)
* ``sandbox.env``: the ``PERCH_*`` settings, one ``KEY=value`` a line
* ``mailboxes.json``: a ``manual_connection/bulk`` body with every demo mailbox
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import secrets
import shutil
import tempfile
from collections.abc import Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from perch.sandbox.ca import SandboxCA
from perch.sandbox.dns import SandboxDNS
from perch.sandbox.imap import SandboxIMAP
from perch.sandbox.smtp import SandboxSMTP

DOMAIN = "perch.example"
DEMO_LOGINS = (f"demo@{DOMAIN}", f"demo2@{DOMAIN}")
ALLOWED_NETWORKS = "127.0.0.0/8,::1/128"
BULK_PATH = "/rest/v2/mailboxes/manual_connection/bulk"
_CERT_HOSTS = ("localhost", "127.0.0.1", "::1", f"smtp.{DOMAIN}", f"imap.{DOMAIN}")
_TXT_CHUNK = 200  # one TXT string holds at most 255 bytes


@dataclass(frozen=True)
class _Peers:
    smtp: SandboxSMTP
    imap: SandboxIMAP
    dns: SandboxDNS
    bundle: Path


def demo_zone(host: str = "127.0.0.1") -> str:
    """The ``perch.example`` zone: A/AAAA, MX, SPF, DMARC and two DKIM selectors (TXT, CNAME)."""
    dkim = _dkim_record()
    target = "selector2-perch-example._domainkey.tenant.onmicrosoft.example."
    rtype, spf_ip = ("AAAA", "ip6") if ":" in host else ("A", "ip4")
    return "\n".join(
        [
            f"{DOMAIN}. 300 IN {rtype} {host}",
            f"smtp.{DOMAIN}. 300 IN {rtype} {host}",
            f"imap.{DOMAIN}. 300 IN {rtype} {host}",
            f"{DOMAIN}. 300 IN MX 10 smtp.{DOMAIN}.",
            f'{DOMAIN}. 300 IN TXT "v=spf1 {spf_ip}:{host} -all"',
            f'_dmarc.{DOMAIN}. 300 IN TXT "v=DMARC1; p=none; rua=mailto:dmarc@{DOMAIN}"',
            f"selector1._domainkey.{DOMAIN}. 300 IN TXT {dkim}",
            f"selector2._domainkey.{DOMAIN}. 300 IN CNAME {target}",
            f"{target} 300 IN TXT {dkim}",
        ]
    )


def _dkim_record() -> str:
    """A DKIM TXT value for a fresh RSA key, split into quoted strings."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    der = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    value = "v=DKIM1; k=rsa; p=" + base64.b64encode(der).decode()
    chunks = [value[i : i + _TXT_CHUNK] for i in range(0, len(value), _TXT_CHUNK)]
    return " ".join(f'"{chunk}"' for chunk in chunks)


# The bodies use the STARTTLS ports: Perch speaks implicit TLS only on 465 and 993, and the
# sandbox listens on random ports. (Addresses use the reserved ``.example`` name because
# ``.test`` is refused as an e-mail domain.)
def bulk_body(mailboxes: list[dict[str, Any]]) -> dict[str, Any]:
    """A ``POST manual_connection/bulk`` request body."""
    return {"mailboxes": mailboxes}


def _mailbox_entry(login: str, password: str, peers: _Peers) -> dict[str, Any]:
    return {
        "smtp_email": login,
        "smtp_password": password,
        "smtp_server": peers.smtp.host,
        "smtp_port": peers.smtp.starttls_port,
        "imap_email": login,
        "imap_password": password,
        "imap_server": peers.imap.host,
        "imap_port": peers.imap.starttls_port,
    }


def _settings(peers: _Peers) -> dict[str, str]:
    return {
        "PERCH_TLS_CA_FILE": str(peers.bundle),
        "PERCH_ALLOWED_NETWORKS": ALLOWED_NETWORKS,
        "PERCH_DNS_NAMESERVERS": peers.dns.nameserver,
    }


async def _start_peers(stack: AsyncExitStack, host: str, state_dir: Path) -> _Peers:
    ca = SandboxCA(hosts=_CERT_HOSTS)
    bundle = ca.write_bundle(state_dir / "ca.pem")
    smtp = await stack.enter_async_context(SandboxSMTP(ca, host=host))
    imap = await stack.enter_async_context(SandboxIMAP(ca, host=host))
    zone = await asyncio.to_thread(demo_zone, host)
    dns = await stack.enter_async_context(SandboxDNS(zone, host=host))
    return _Peers(smtp=smtp, imap=imap, dns=dns, bundle=bundle)


async def _create_mailboxes(peers: _Peers) -> list[dict[str, Any]]:
    entries = []
    for login in DEMO_LOGINS:
        password = secrets.token_urlsafe(12)
        peers.smtp.add_user(login, password)
        await peers.imap.add_user(login, password)
        entries.append(_mailbox_entry(login, password, peers))
    return entries


def _report(peers: _Peers, entries: list[dict[str, Any]], out: Callable[[str], Any]) -> None:
    smtp, imap, dns = peers.smtp, peers.imap, peers.dns
    out("Perch sandbox is running; stop it with Ctrl+C.")
    out("")
    out("Settings for the Perch server (also in sandbox.env):")
    for key, value in _settings(peers).items():
        out(f"{key}={value}")
    out("")
    out(f"SMTP {smtp.host}: {smtp.implicit_port} (implicit TLS), {smtp.starttls_port} (STARTTLS)")
    out(f"IMAP {imap.host}: {imap.implicit_port} (implicit TLS), {imap.starttls_port} (STARTTLS)")
    out(f"DNS  {dns.nameserver} (UDP and TCP), zone {DOMAIN}")
    for entry in entries:
        out("")
        out(f"Mailbox {entry['smtp_email']}  password {entry['smtp_password']}")
        out(f"POST {BULK_PATH} body:")
        out(json.dumps(bulk_body([entry])))


def _write_state(state_dir: Path, peers: _Peers, entries: list[dict[str, Any]]) -> None:
    env = "".join(f"{key}={value}\n" for key, value in _settings(peers).items())
    (state_dir / "sandbox.env").write_text(env)
    (state_dir / "mailboxes.json").write_text(json.dumps(bulk_body(entries), indent=2) + "\n")


async def run_sandbox(
    host: str = "127.0.0.1",
    out: Callable[[str], Any] = print,
    ready: asyncio.Event | None = None,
    state_dir: Path | None = None,
) -> None:
    """Serve the sandbox peers on ``host`` until cancelled, then stop them.

    ``ready`` is set once everything listens and the report is printed. Without
    ``state_dir`` the files go to a temporary directory removed at the end.
    """
    _quiet_aiosmtpd()
    own_dir = state_dir is None
    root = Path(tempfile.mkdtemp(prefix="perch-sandbox-")) if state_dir is None else state_dir
    root.mkdir(parents=True, exist_ok=True)
    try:
        async with AsyncExitStack() as stack:
            peers = await _start_peers(stack, host, root)
            entries = await _create_mailboxes(peers)
            _write_state(root, peers, entries)
            _report(peers, entries, out)
            if ready is not None:
                ready.set()
            await asyncio.Event().wait()  # until cancelled
    finally:
        if own_dir:
            shutil.rmtree(root, ignore_errors=True)


def _quiet_aiosmtpd() -> None:
    """aiosmtpd warns on every implicit-TLS connection and every login; keep errors only."""
    logging.getLogger("mail.log").setLevel(logging.ERROR)
