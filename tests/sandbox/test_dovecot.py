"""A real Dovecot: logins over both TLS modes, refusals, APPEND (skipped if not installed)."""

from __future__ import annotations

import time

import pytest
from imapclient.exceptions import LoginError

from perch.sandbox import Dovecot, SandboxCA
from tests.fixtures.peers import ALICE, ALICE_PASSWORD, BOB, BOB_PASSWORD
from tests.sandbox.clients import MODES, imap_client, imap_folders

pytestmark = pytest.mark.slow


def _port(server: Dovecot, mode: str) -> int:
    return server.imaps_port if mode == "implicit" else server.imap_port


@pytest.mark.parametrize("mode", MODES)
def test_login_succeeds(dovecot: Dovecot, sandbox_ca: SandboxCA, mode: str) -> None:
    folders = imap_folders(
        _port(dovecot, mode), sandbox_ca.client_context(), mode, ALICE, ALICE_PASSWORD
    )
    assert {"INBOX", "Sent", "Drafts", "Trash"} <= set(folders)


@pytest.mark.parametrize("mode", MODES)
def test_wrong_password_is_refused(dovecot: Dovecot, sandbox_ca: SandboxCA, mode: str) -> None:
    with pytest.raises(LoginError, match="AUTHENTICATIONFAILED"):
        imap_folders(_port(dovecot, mode), sandbox_ca.client_context(), mode, ALICE, "wrong")


def test_sent_folder_has_the_special_use_flag(dovecot: Dovecot, sandbox_ca: SandboxCA) -> None:
    client = imap_client(dovecot.imaps_port, sandbox_ca.client_context(), "implicit")
    try:
        client.login(BOB, BOB_PASSWORD)
        assert client.find_special_folder(b"\\Sent") == "Sent"
    finally:
        client.shutdown()


def test_append_returns_the_uid_the_server_assigned(
    dovecot: Dovecot, sandbox_ca: SandboxCA
) -> None:
    raw = f"Subject: dovecot {time.time()}\r\n\r\nhello\r\n".encode()
    uid = dovecot.append(BOB, "INBOX", raw, flags=[r"\Seen"])
    client = imap_client(dovecot.imaps_port, sandbox_ca.client_context(), "implicit")
    try:
        client.login(BOB, BOB_PASSWORD)
        client.select_folder("INBOX", readonly=True)
        fetched = client.fetch([uid], ["FLAGS", "BODY.PEEK[]"])
    finally:
        client.shutdown()
    assert fetched[uid][b"BODY[]"] == raw
    assert b"\\Seen" in fetched[uid][b"FLAGS"]


def test_stop_removes_the_instance(sandbox_ca: SandboxCA) -> None:
    if not Dovecot.available():
        pytest.skip("dovecot is not installed")
    server = Dovecot(sandbox_ca, {ALICE: ALICE_PASSWORD})
    server.start()
    files = server.directory
    assert files is not None and (files / "dovecot.conf").exists()
    server.stop()
    assert not files.exists()
    with pytest.raises(OSError):
        imap_client(server.imaps_port, sandbox_ca.client_context(), "implicit", timeout=1)
