"""SandboxCA: its contexts really verify each other, and its files are usable."""

from __future__ import annotations

import asyncio
import ipaddress
import ssl
import stat
from pathlib import Path

import pytest
from cryptography import x509

from perch.sandbox import SandboxCA


async def _handshake(
    server_ctx: ssl.SSLContext, client_ctx: ssl.SSLContext, server_hostname: str
) -> bytes:
    async def greet(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"hello\n")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(greet, "127.0.0.1", 0, ssl=server_ctx)
    port = server.sockets[0].getsockname()[1]
    try:
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(
                "127.0.0.1", port, ssl=client_ctx, server_hostname=server_hostname
            ),
            timeout=5,
        )
        line = await reader.readline()
        writer.close()
        return line
    finally:
        server.close()


@pytest.mark.parametrize("name", ["localhost", "127.0.0.1", "::1"])
async def test_client_context_verifies_the_leaf_for_each_host(
    sandbox_ca: SandboxCA, name: str
) -> None:
    line = await _handshake(sandbox_ca.server_context(), sandbox_ca.client_context(), name)
    assert line == b"hello\n"


async def test_a_client_without_the_ca_rejects_the_leaf(sandbox_ca: SandboxCA) -> None:
    untrusting = ssl.create_default_context()
    with pytest.raises(ssl.SSLCertVerificationError):
        await _handshake(sandbox_ca.server_context(), untrusting, "localhost")


async def test_a_name_outside_the_certificate_is_rejected(sandbox_ca: SandboxCA) -> None:
    with pytest.raises(ssl.SSLCertVerificationError):
        await _handshake(sandbox_ca.server_context(), sandbox_ca.client_context(), "other.test")


async def test_bundle_file_works_as_a_cafile(sandbox_ca: SandboxCA, tmp_path: Path) -> None:
    bundle = sandbox_ca.write_bundle(tmp_path / "ca.pem")
    assert bundle == tmp_path / "ca.pem"
    assert bundle.read_bytes() == sandbox_ca.ca_pem
    client_ctx = ssl.create_default_context(cafile=str(bundle))
    line = await _handshake(sandbox_ca.server_context(), client_ctx, "127.0.0.1")
    assert line == b"hello\n"


def test_leaf_files_load_as_a_certificate_chain(sandbox_ca: SandboxCA, tmp_path: Path) -> None:
    cert, key = sandbox_ca.write_leaf(tmp_path / "cert.pem", tmp_path / "key.pem")
    ssl.create_default_context(ssl.Purpose.CLIENT_AUTH).load_cert_chain(cert, key)
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    leaf = x509.load_pem_x509_certificate(cert.read_bytes())
    san = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["localhost"]
    assert set(san.get_values_for_type(x509.IPAddress)) == {
        ipaddress.ip_address("127.0.0.1"),
        ipaddress.ip_address("::1"),
    }


def test_custom_hosts_end_up_in_the_certificate(tmp_path: Path) -> None:
    ca = SandboxCA(hosts=("smtp.perch.test", "127.0.0.1"))
    cert, _ = ca.write_leaf(tmp_path / "cert.pem", tmp_path / "key.pem")
    leaf = x509.load_pem_x509_certificate(cert.read_bytes())
    san = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["smtp.perch.test"]


def test_no_hosts_is_an_error() -> None:
    with pytest.raises(ValueError, match="at least one host"):
        SandboxCA(hosts=())
