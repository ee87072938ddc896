"""A throw-away certificate authority for the sandbox peers.

One CA signs one leaf certificate that covers every host name and address the
peers listen on, so clients can verify TLS for real instead of turning
verification off. Nothing is written to disk unless asked for.
"""

from __future__ import annotations

import ssl
from collections.abc import Iterable
from pathlib import Path

import trustme

DEFAULT_HOSTS = ("localhost", "127.0.0.1", "::1")


class SandboxCA:
    """A trustme CA plus one leaf certificate for ``hosts``."""

    def __init__(self, hosts: Iterable[str] = DEFAULT_HOSTS) -> None:
        self.hosts: tuple[str, ...] = tuple(hosts)
        if not self.hosts:
            raise ValueError("SandboxCA needs at least one host name")
        self._ca = trustme.CA(organization_name="Perch sandbox")
        self._leaf = self._ca.issue_cert(*self.hosts)

    @property
    def ca_pem(self) -> bytes:
        """The CA certificate in PEM form."""
        return self._ca.cert_pem.bytes()

    def server_context(self) -> ssl.SSLContext:
        """A new server-side context that presents the leaf certificate."""
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self._leaf.configure_cert(ctx)
        return ctx

    def client_context(self) -> ssl.SSLContext:
        """A new client-side context that trusts this CA (and the system roots)."""
        ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
        self._ca.configure_trust(ctx)
        return ctx

    def write_bundle(self, path: str | Path) -> Path:
        """Write the CA certificate to ``path`` (usable as ``PERCH_TLS_CA_FILE``)."""
        target = Path(path)
        self._ca.cert_pem.write_to_path(str(target))
        return target

    def write_leaf(self, cert_path: str | Path, key_path: str | Path) -> tuple[Path, Path]:
        """Write the leaf chain and its private key, e.g. for Dovecot."""
        cert, key = Path(cert_path), Path(key_path)
        cert.write_bytes(b"".join(blob.bytes() for blob in self._leaf.cert_chain_pems))
        key.write_bytes(self._leaf.private_key_pem.bytes())
        key.chmod(0o600)
        return cert, key
