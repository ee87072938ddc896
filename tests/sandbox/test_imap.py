"""SandboxIMAP over both TLS modes: auth, folders, append/messages, UIDVALIDITY, faults.

imapclient is blocking, so every client call runs in a thread (``asyncio.to_thread``):
called in the event loop it would block the in-process server it talks to.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time

import pytest
from imapclient import IMAPClient
from imapclient.exceptions import LoginError

from perch.sandbox import SandboxCA, SandboxIMAP
from tests.fixtures.peers import ALICE, ALICE_PASSWORD, BOB
from tests.sandbox.clients import HOST, MODES, imap_client, imap_folders

RAW = b"From: prospect@example.org\r\nSubject: Re: hello\r\n\r\nSounds good.\r\n"


def _port(server: SandboxIMAP, mode: str) -> int:
    return server.implicit_port if mode == "implicit" else server.starttls_port


async def _folders(
    server: SandboxIMAP, ca: SandboxCA, mode: str = "implicit", password: str = ALICE_PASSWORD
) -> list[str]:
    port = _port(server, mode)
    return await asyncio.to_thread(imap_folders, port, ca.client_context(), mode, ALICE, password)


def _select(port: int, ca: SandboxCA, mailbox: str) -> tuple[int, dict[int, dict[bytes, object]]]:
    """UIDVALIDITY and ``{uid: {FLAGS, BODY[]}}`` of ``mailbox``, as a client sees them."""
    client = imap_client(port, ca.client_context(), "implicit")
    try:
        client.login(ALICE, ALICE_PASSWORD)
        info = client.select_folder(mailbox, readonly=True)
        uids = client.search("ALL")
        return info[b"UIDVALIDITY"], client.fetch(uids, ["FLAGS", "BODY.PEEK[]"])
    finally:
        client.shutdown()


@pytest.mark.parametrize("mode", MODES)
async def test_login_succeeds_and_lists_inbox_and_sent(
    imap_server: SandboxIMAP, sandbox_ca: SandboxCA, mode: str
) -> None:
    assert set(await _folders(imap_server, sandbox_ca, mode)) == {"INBOX", "Sent"}


@pytest.mark.parametrize("mode", MODES)
async def test_wrong_password_is_refused(
    imap_server: SandboxIMAP, sandbox_ca: SandboxCA, mode: str
) -> None:
    with pytest.raises(LoginError, match="AUTHENTICATIONFAILED"):
        await _folders(imap_server, sandbox_ca, mode, password="wrong")


async def test_starttls_is_offered_only_on_the_plaintext_port(
    imap_server: SandboxIMAP, sandbox_ca: SandboxCA
) -> None:
    def capabilities(port: int, ssl: bool) -> tuple[bytes, ...]:
        client = IMAPClient(HOST, port, ssl=ssl, ssl_context=sandbox_ca.client_context())
        try:
            return tuple(client.capabilities())
        finally:
            client.shutdown()

    plain = await asyncio.to_thread(capabilities, imap_server.starttls_port, False)
    implicit = await asyncio.to_thread(capabilities, imap_server.implicit_port, True)
    assert b"STARTTLS" in plain
    assert b"STARTTLS" not in implicit
    assert b"AUTH=PLAIN" in implicit


async def test_added_user_can_log_in(imap_server: SandboxIMAP, sandbox_ca: SandboxCA) -> None:
    await imap_server.add_user("carol@example.test", "carol-pw")
    folders = await asyncio.to_thread(
        imap_folders,
        imap_server.implicit_port,
        sandbox_ca.client_context(),
        "implicit",
        "carol@example.test",
        "carol-pw",
    )
    assert "Sent" in folders


async def test_appended_message_is_fetched_by_a_client(
    imap_server: SandboxIMAP, sandbox_ca: SandboxCA
) -> None:
    uid = await imap_server.append(ALICE, "INBOX", RAW, flags=[r"\Seen"])
    _, fetched = await asyncio.to_thread(_select, imap_server.implicit_port, sandbox_ca, "INBOX")
    assert list(fetched) == [uid]
    assert fetched[uid][b"BODY[]"] == RAW
    assert b"\\Seen" in fetched[uid][b"FLAGS"]  # type: ignore[operator]


async def test_client_append_shows_up_in_messages(
    imap_server: SandboxIMAP, sandbox_ca: SandboxCA
) -> None:
    def append_sent() -> None:
        client = imap_client(imap_server.starttls_port, sandbox_ca.client_context(), "starttls")
        try:
            client.login(ALICE, ALICE_PASSWORD)
            client.append("Sent", RAW, flags=[b"\\Seen"])
        finally:
            client.shutdown()

    await asyncio.to_thread(append_sent)
    [(uid, raw, flags)] = await imap_server.messages(ALICE, "Sent")
    assert raw == RAW
    assert flags == {"\\Seen"}
    assert uid > 0
    assert await imap_server.messages(ALICE, "INBOX") == []
    assert await imap_server.messages(BOB, "Sent") == []


async def test_uids_increase_per_append(imap_server: SandboxIMAP) -> None:
    first = await imap_server.append(ALICE, "INBOX", RAW)
    second = await imap_server.append(ALICE, "INBOX", RAW)
    assert second > first
    assert [uid for uid, _, _ in await imap_server.messages(ALICE, "INBOX")] == [first, second]


async def test_append_to_a_missing_mailbox_fails(imap_server: SandboxIMAP) -> None:
    with pytest.raises(KeyError):
        await imap_server.append(ALICE, "Archive", RAW)
    await imap_server.create_mailbox(ALICE, "Archive")
    assert await imap_server.append(ALICE, "Archive", RAW) > 0


@pytest.mark.parametrize("mailbox", ["INBOX", "Sent"])
async def test_uidvalidity_reset_keeps_messages_under_new_uids(
    imap_server: SandboxIMAP, sandbox_ca: SandboxCA, mailbox: str
) -> None:
    port = imap_server.implicit_port
    await imap_server.append(ALICE, mailbox, RAW, flags=[r"\Seen"])
    await imap_server.append(ALICE, mailbox, RAW.replace(b"good", b"great"))
    old_validity, old = await asyncio.to_thread(_select, port, sandbox_ca, mailbox)

    new_value = await imap_server.reset_uidvalidity(ALICE, mailbox)

    new_validity, new = await asyncio.to_thread(_select, port, sandbox_ca, mailbox)
    assert new_validity == new_value != old_validity
    assert min(new) > max(old)
    assert [m[b"BODY[]"] for m in new.values()] == [m[b"BODY[]"] for m in old.values()]
    assert [b"\\Seen" in m[b"FLAGS"] for m in new.values()] == [True, False]  # type: ignore[operator]
    assert await imap_server.uidvalidity(ALICE, mailbox) == new_value
    assert set(await _folders(imap_server, sandbox_ca)) == {"INBOX", "Sent"}


async def test_refuse_then_accept_on_the_same_ports(
    imap_server: SandboxIMAP, sandbox_ca: SandboxCA
) -> None:
    ports = (imap_server.implicit_port, imap_server.starttls_port)
    await imap_server.refuse()
    for mode in MODES:
        with pytest.raises(ConnectionRefusedError):
            await _folders(imap_server, sandbox_ca, mode)
    await imap_server.accept()
    assert (imap_server.implicit_port, imap_server.starttls_port) == ports
    for mode in MODES:
        assert "INBOX" in await _folders(imap_server, sandbox_ca, mode)


async def test_latency_delays_every_reply(imap_server: SandboxIMAP, sandbox_ca: SandboxCA) -> None:
    await _folders(imap_server, sandbox_ca)  # warm
    imap_server.faults.latency = 0.1
    started = time.monotonic()
    await _folders(imap_server, sandbox_ca)
    # greeting, LOGIN, LIST: at least 3 replies
    assert time.monotonic() - started >= 3 * 0.1


@pytest.mark.parametrize("mode", MODES)
async def test_handshake_delay_delays_the_greeting(
    imap_server: SandboxIMAP, sandbox_ca: SandboxCA, mode: str
) -> None:
    imap_server.faults.handshake_delay = 0.2
    started = time.monotonic()
    await _folders(imap_server, sandbox_ca, mode)
    assert time.monotonic() - started >= 0.2


@pytest.mark.parametrize("mode", MODES)
async def test_fail_auth_refuses_the_right_password(
    imap_server: SandboxIMAP, sandbox_ca: SandboxCA, mode: str
) -> None:
    imap_server.faults.fail_auth = True
    with pytest.raises(LoginError):
        await _folders(imap_server, sandbox_ca, mode)
    imap_server.faults.fail_auth = False
    assert "INBOX" in await _folders(imap_server, sandbox_ca, mode)


@pytest.mark.parametrize("mode", MODES)
async def test_stalled_server_times_the_client_out(
    imap_server: SandboxIMAP, sandbox_ca: SandboxCA, mode: str
) -> None:
    imap_server.faults.stall = True
    port = _port(imap_server, mode)
    with pytest.raises((TimeoutError, socket.timeout)):
        await asyncio.to_thread(imap_client, port, sandbox_ca.client_context(), mode, 0.5)


async def test_plaintext_client_on_the_implicit_port_times_out(imap_server: SandboxIMAP) -> None:
    with pytest.raises((TimeoutError, socket.timeout)):
        await asyncio.to_thread(IMAPClient, HOST, imap_server.implicit_port, ssl=False, timeout=0.5)


async def test_stop_drops_open_connections(sandbox_ca: SandboxCA) -> None:
    server = SandboxIMAP(sandbox_ca, {ALICE: ALICE_PASSWORD})
    await server.start()
    client = await asyncio.to_thread(
        imap_client, server.implicit_port, sandbox_ca.client_context(), "implicit"
    )
    await server.stop()
    try:
        with pytest.raises((OSError, IMAPClient.AbortError, IMAPClient.Error)):
            await asyncio.to_thread(client.noop)
    finally:
        with contextlib.suppress(OSError):
            client.shutdown()
    with pytest.raises(ConnectionRefusedError):
        await _folders(server, sandbox_ca)
