"""SandboxSMTP over both TLS modes: auth, recording, rejections, refusal, faults."""

from __future__ import annotations

import time

import aiosmtplib
import pytest

from perch.sandbox import SandboxCA, SandboxSMTP
from tests.fixtures.peers import ALICE, ALICE_PASSWORD, BOB
from tests.sandbox.clients import HOST, MODES, sample_message, smtp_client


def _port(server: SandboxSMTP, mode: str) -> int:
    return server.implicit_port if mode == "implicit" else server.starttls_port


async def _send(
    server: SandboxSMTP,
    ca: SandboxCA,
    mode: str = "implicit",
    password: str = ALICE_PASSWORD,
    recipients: list[str] | None = None,
    login: str = ALICE,
) -> None:
    client = smtp_client(_port(server, mode), ca.client_context(), mode)
    async with client:
        await client.login(login, password)
        await client.send_message(sample_message(), recipients=recipients)


@pytest.mark.parametrize("mode", MODES)
async def test_message_is_recorded_with_envelope_and_headers(
    smtp_server: SandboxSMTP, sandbox_ca: SandboxCA, mode: str
) -> None:
    recipients = ["prospect@example.org", "cc@example.org"]
    await _send(smtp_server, sandbox_ca, mode, recipients=recipients)

    [received] = await smtp_server.wait_for_messages(1)
    assert received.mail_from == ALICE
    assert received.rcpt_tos == recipients
    assert received.login == ALICE
    parsed = received.message
    assert parsed["Subject"] == "Hello from the sandbox"
    assert parsed["In-Reply-To"] == "<original-1@example.org>"
    assert parsed["References"] == "<thread-0@example.org> <original-1@example.org>"
    assert "just checking in." in parsed.get_content()


@pytest.mark.parametrize("mode", MODES)
async def test_wrong_password_is_refused_with_535(
    smtp_server: SandboxSMTP, sandbox_ca: SandboxCA, mode: str
) -> None:
    with pytest.raises(aiosmtplib.SMTPAuthenticationError) as caught:
        await _send(smtp_server, sandbox_ca, mode, password="wrong")
    assert caught.value.code == 535
    assert "5.7.8" in caught.value.message
    assert smtp_server.messages == []


async def test_unknown_login_is_refused(smtp_server: SandboxSMTP, sandbox_ca: SandboxCA) -> None:
    with pytest.raises(aiosmtplib.SMTPAuthenticationError):
        await _send(smtp_server, sandbox_ca, login="nobody@example.test")


async def test_added_user_can_log_in(smtp_server: SandboxSMTP, sandbox_ca: SandboxCA) -> None:
    smtp_server.add_user("carol@example.test", "carol-pw")
    await _send(smtp_server, sandbox_ca, login="carol@example.test", password="carol-pw")
    [received] = await smtp_server.wait_for_messages(1)
    assert received.login == "carol@example.test"


async def test_auth_is_not_offered_before_starttls(
    smtp_server: SandboxSMTP, sandbox_ca: SandboxCA
) -> None:
    client = aiosmtplib.SMTP(hostname=HOST, port=smtp_server.starttls_port, start_tls=False)
    async with client:
        await client.ehlo()
        assert "starttls" in client.esmtp_extensions
        assert "auth" not in client.esmtp_extensions
        reply = await client.execute_command(b"AUTH", b"PLAIN", b"AGFsaWNlAHB3")
    assert reply.code == 530


async def test_mail_without_auth_is_refused(
    smtp_server: SandboxSMTP, sandbox_ca: SandboxCA
) -> None:
    client = smtp_client(smtp_server.implicit_port, sandbox_ca.client_context(), "implicit")
    async with client:
        with pytest.raises(aiosmtplib.SMTPSenderRefused) as caught:
            await client.send_message(sample_message())
    assert caught.value.code == 530


async def test_rejected_recipient_gets_550(smtp_server: SandboxSMTP, sandbox_ca: SandboxCA) -> None:
    smtp_server.reject_recipients.add("Gone@Example.org")
    with pytest.raises(aiosmtplib.SMTPRecipientsRefused) as caught:
        await _send(smtp_server, sandbox_ca, recipients=["gone@example.org"])
    [refusal] = caught.value.recipients
    assert refusal.code == 550
    assert "5.1.1" in refusal.message
    assert smtp_server.messages == []


async def test_other_recipients_still_get_the_message(
    smtp_server: SandboxSMTP, sandbox_ca: SandboxCA
) -> None:
    smtp_server.reject_recipients.add(BOB)
    await _send(smtp_server, sandbox_ca, recipients=[BOB, "prospect@example.org"])
    [received] = await smtp_server.wait_for_messages(1)
    assert received.rcpt_tos == ["prospect@example.org"]


async def test_reject_data_answers_the_configured_line(
    smtp_server: SandboxSMTP, sandbox_ca: SandboxCA
) -> None:
    smtp_server.reject_data = "554 5.7.1 Message rejected as spam"
    with pytest.raises(aiosmtplib.SMTPDataError) as caught:
        await _send(smtp_server, sandbox_ca)
    assert caught.value.code == 554
    assert caught.value.message == "5.7.1 Message rejected as spam"
    assert smtp_server.messages == []


async def test_refuse_then_accept_on_the_same_ports(
    smtp_server: SandboxSMTP, sandbox_ca: SandboxCA
) -> None:
    ports = (smtp_server.implicit_port, smtp_server.starttls_port)
    await smtp_server.refuse()
    for mode in MODES:
        with pytest.raises(aiosmtplib.SMTPConnectError, match="Connect call failed"):
            await _send(smtp_server, sandbox_ca, mode)

    await smtp_server.accept()
    assert (smtp_server.implicit_port, smtp_server.starttls_port) == ports
    for mode in MODES:
        await _send(smtp_server, sandbox_ca, mode)
    assert len(await smtp_server.wait_for_messages(2)) == 2


async def test_wait_for_messages_gives_up_at_the_deadline(smtp_server: SandboxSMTP) -> None:
    with pytest.raises(TimeoutError, match="expected 1"):
        await smtp_server.wait_for_messages(1, timeout=0.05)


async def test_latency_delays_every_reply(smtp_server: SandboxSMTP, sandbox_ca: SandboxCA) -> None:
    await _send(smtp_server, sandbox_ca)  # warm: TLS contexts and code paths
    smtp_server.faults.latency = 0.05
    started = time.monotonic()
    await _send(smtp_server, sandbox_ca)
    # greeting, EHLO, AUTH, MAIL, RCPT, DATA, end of data: at least 7 replies
    assert time.monotonic() - started >= 7 * 0.05


@pytest.mark.parametrize("mode", MODES)
async def test_handshake_delay_delays_the_greeting(
    smtp_server: SandboxSMTP, sandbox_ca: SandboxCA, mode: str
) -> None:
    smtp_server.faults.handshake_delay = 0.2
    client = smtp_client(_port(smtp_server, mode), sandbox_ca.client_context(), mode)
    started = time.monotonic()
    await client.connect()
    assert time.monotonic() - started >= 0.2
    await client.quit()


@pytest.mark.parametrize("mode", MODES)
async def test_fail_auth_refuses_the_right_password(
    smtp_server: SandboxSMTP, sandbox_ca: SandboxCA, mode: str
) -> None:
    smtp_server.faults.fail_auth = True
    with pytest.raises(aiosmtplib.SMTPAuthenticationError) as caught:
        await _send(smtp_server, sandbox_ca, mode)
    assert caught.value.code == 535

    smtp_server.faults.fail_auth = False
    await _send(smtp_server, sandbox_ca, mode)


@pytest.mark.parametrize("mode", MODES)
async def test_stalled_server_times_the_client_out(
    smtp_server: SandboxSMTP, sandbox_ca: SandboxCA, mode: str
) -> None:
    smtp_server.faults.stall = True
    client = smtp_client(_port(smtp_server, mode), sandbox_ca.client_context(), mode, 0.5)
    with pytest.raises(aiosmtplib.SMTPConnectTimeoutError):
        await client.connect()


async def test_plaintext_client_on_the_implicit_port_times_out(
    smtp_server: SandboxSMTP,
) -> None:
    client = aiosmtplib.SMTP(
        hostname=HOST, port=smtp_server.implicit_port, start_tls=False, timeout=0.5
    )
    with pytest.raises(aiosmtplib.SMTPConnectTimeoutError):
        await client.connect()


async def test_stop_closes_listeners_and_open_connections(sandbox_ca: SandboxCA) -> None:
    server = SandboxSMTP(sandbox_ca, {ALICE: ALICE_PASSWORD})
    await server.start()
    client = smtp_client(server.implicit_port, sandbox_ca.client_context(), "implicit")
    await client.connect()
    await server.stop()
    with pytest.raises(aiosmtplib.SMTPServerDisconnected):
        await client.noop()
    with pytest.raises(aiosmtplib.SMTPConnectError):
        await _send(server, sandbox_ca)
