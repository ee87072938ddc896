"""The IMAP adapter against pymap (in-process) and a real Dovecot: TLS modes, login, select."""

from __future__ import annotations

import ssl
import time
from collections.abc import AsyncIterator

import pytest

from perch.sandbox import Dovecot, Faults, SandboxCA, SandboxIMAP
from perch.server.integrations.imap import ImapConnector
from perch.server.integrations.mailnet import MailPermanent, MailServer, MailTransient, Security
from tests.fixtures.peers import ALICE, ALICE_PASSWORD
from tests.helpers import free_port
from tests.server.integrations.mail_helpers import LOOPBACK, counting_listener

TIMEOUT = 20.0


@pytest.fixture
async def imap(sandbox_ca: SandboxCA) -> AsyncIterator[ImapConnector]:
    async with ImapConnector(sandbox_ca.client_context(), timeout=TIMEOUT, allowed=LOOPBACK) as c:
        yield c


def implicit(port: int, host: str = "localhost") -> MailServer:
    return MailServer(host, port, Security.implicit_tls)


def starttls(port: int, host: str = "localhost") -> MailServer:
    return MailServer(host, port, Security.starttls)


@pytest.mark.parametrize("mode", ["implicit", "starttls"])
async def test_login_and_select_inbox_on_pymap(
    imap: ImapConnector, imap_server: SandboxIMAP, mode: str
) -> None:
    await imap_server.append(ALICE, "INBOX", b"Subject: hi\r\n\r\nhello\r\n")
    port = imap_server.implicit_port if mode == "implicit" else imap_server.starttls_port
    server = implicit(port) if mode == "implicit" else starttls(port)
    async with imap.session(server, ALICE, ALICE_PASSWORD) as session:
        status = await session.select("INBOX")
        assert "IMAP4REV1" in await session.capabilities()
        uids = await session.run(lambda client: client.search(["ALL"]), "search")
    assert status.exists == 1
    assert status.uidvalidity == await imap_server.uidvalidity(ALICE, "INBOX")
    assert len(uids) == 1


@pytest.mark.parametrize("mode", ["implicit", "starttls"])
async def test_login_and_select_inbox_on_dovecot(
    imap: ImapConnector, dovecot: Dovecot, mode: str
) -> None:
    server = implicit(dovecot.imaps_port) if mode == "implicit" else starttls(dovecot.imap_port)
    async with imap.session(server, ALICE, ALICE_PASSWORD) as session:
        status = await session.select()
    assert status.uidvalidity is not None and status.uidnext is not None


async def test_wrong_password_on_dovecot_is_a_permanent_auth_failure(
    imap: ImapConnector, dovecot: Dovecot
) -> None:
    with pytest.raises(MailPermanent) as caught:
        await imap.open(implicit(dovecot.imaps_port), ALICE, "wrong")
    error = caught.value
    assert (error.code, error.stage) == ("IMAP_AUTH_FAILED", "auth")
    assert error.reply == "[AUTHENTICATIONFAILED] Authentication failed."
    assert "app password" in (error.hint or "")


async def test_wrong_password_on_pymap(imap: ImapConnector, imap_server: SandboxIMAP) -> None:
    with pytest.raises(MailPermanent) as caught:
        await imap.open(starttls(imap_server.starttls_port), ALICE, "wrong")
    assert caught.value.code == "IMAP_AUTH_FAILED"
    assert (caught.value.reply or "").startswith("[AUTHENTICATIONFAILED]")


async def test_a_missing_folder_is_a_select_failure(
    imap: ImapConnector, imap_server: SandboxIMAP
) -> None:
    async with imap.session(implicit(imap_server.implicit_port), ALICE, ALICE_PASSWORD) as s:
        with pytest.raises(MailPermanent) as caught:
            await s.select("Nope")
    assert (caught.value.code, caught.value.stage) == ("IMAP_SELECT_FAILED", "select")


async def _plaintext_to_implicit(imap: ImapConnector, port: int) -> None:
    started = time.monotonic()
    with pytest.raises(MailPermanent) as caught:
        await imap.open(starttls(port), ALICE, ALICE_PASSWORD)
    assert time.monotonic() - started < TIMEOUT / 4  # far from the 20 s timeout
    assert (caught.value.code, caught.value.stage) == ("IMAP_TLS_MODE_MISMATCH", "greeting")


async def _implicit_to_starttls(imap: ImapConnector, port: int) -> None:
    with pytest.raises(MailPermanent) as caught:
        await imap.open(implicit(port), ALICE, ALICE_PASSWORD)
    assert (caught.value.code, caught.value.stage) == ("IMAP_TLS_MODE_MISMATCH", "tls")


async def test_wrong_tls_mode_on_pymap(imap: ImapConnector, imap_server: SandboxIMAP) -> None:
    await _plaintext_to_implicit(imap, imap_server.implicit_port)
    await _implicit_to_starttls(imap, imap_server.starttls_port)


async def test_wrong_tls_mode_on_dovecot(imap: ImapConnector, dovecot: Dovecot) -> None:
    await _plaintext_to_implicit(imap, dovecot.imaps_port)
    await _implicit_to_starttls(imap, dovecot.imap_port)


async def test_an_untrusted_certificate_is_refused(imap_server: SandboxIMAP) -> None:
    context = ssl.create_default_context()
    async with ImapConnector(context, timeout=TIMEOUT, allowed=LOOPBACK) as untrusting:
        for server, stage in [
            (implicit(imap_server.implicit_port), "tls"),
            (starttls(imap_server.starttls_port), "starttls"),
        ]:
            with pytest.raises(MailPermanent) as caught:
                await untrusting.open(server, ALICE, ALICE_PASSWORD)
            assert (caught.value.code, caught.value.stage) == ("IMAP_TLS_FAILED", stage)
            assert "PERCH_TLS_CA_FILE" in (caught.value.hint or "")


async def test_refused_unresolvable_and_not_allowed(
    imap: ImapConnector, sandbox_ca: SandboxCA
) -> None:
    with pytest.raises(MailTransient) as refused:
        await imap.open(starttls(free_port(), "127.0.0.1"), ALICE, ALICE_PASSWORD)
    with pytest.raises(MailPermanent) as unknown:
        await imap.open(implicit(993, "imap.nowhere.invalid"), ALICE, ALICE_PASSWORD)
    async with counting_listener() as listener:
        strict = ImapConnector(sandbox_ca.client_context(), timeout=TIMEOUT, allowed=[])
        async with strict:
            with pytest.raises(MailPermanent) as refused_by_policy:
                await strict.open(starttls(listener.port, "127.0.0.1"), ALICE, ALICE_PASSWORD)
    assert refused.value.code == "IMAP_CONNECTION_REFUSED"
    assert unknown.value.code == "DNS_NOT_FOUND"
    assert refused_by_policy.value.code == "HOST_NOT_ALLOWED"
    assert listener.connections == 0


async def test_a_server_that_never_greets_times_out(sandbox_ca: SandboxCA) -> None:
    async with (
        SandboxIMAP(sandbox_ca, {ALICE: ALICE_PASSWORD}, faults=Faults(stall=True)) as stalled,
        ImapConnector(sandbox_ca.client_context(), timeout=2, allowed=LOOPBACK) as imap,
    ):
        with pytest.raises(MailTransient) as plain:
            await imap.open(starttls(stalled.starttls_port), ALICE, ALICE_PASSWORD)
        with pytest.raises(MailTransient) as tls:
            await imap.open(implicit(stalled.implicit_port), ALICE, ALICE_PASSWORD)
    assert (plain.value.code, plain.value.stage) == ("IMAP_TIMEOUT", "greeting")
    assert (tls.value.code, tls.value.stage) == ("IMAP_TIMEOUT", "tls")


async def test_a_slow_greeting_is_not_mistaken_for_a_tls_port(
    imap: ImapConnector, sandbox_ca: SandboxCA
) -> None:
    slow = Faults(handshake_delay=1.5)  # longer than the 1 s after which Perch probes for TLS
    async with SandboxIMAP(sandbox_ca, {ALICE: ALICE_PASSWORD}, faults=slow) as server:
        for _ in range(2):
            async with imap.session(starttls(server.starttls_port), ALICE, ALICE_PASSWORD) as s:
                await s.select()
