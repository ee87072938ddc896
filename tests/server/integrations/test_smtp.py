"""The SMTP adapter against the sandbox SMTP server: TLS modes, logins, sending, failures."""

from __future__ import annotations

import asyncio
import ssl
import time
from email.message import EmailMessage

import pytest
from aiosmtpd.handlers import Sink
from aiosmtpd.smtp import SMTP

from perch.sandbox import Faults, SandboxCA, SandboxSMTP
from perch.server.integrations.mailnet import (
    MailPermanent,
    MailServer,
    MailTransient,
    Security,
)
from perch.server.integrations.smtp import SmtpConnector
from tests.fixtures.peers import ALICE, ALICE_PASSWORD, BOB
from tests.helpers import free_port
from tests.server.integrations.mail_helpers import LOOPBACK, counting_listener

TIMEOUT = 20.0


def connector(
    ca: SandboxCA, timeout: float = TIMEOUT, allowed: list | None = None
) -> SmtpConnector:
    networks = LOOPBACK if allowed is None else allowed
    return SmtpConnector(ca.client_context(), timeout=timeout, allowed=networks)


def implicit(server: SandboxSMTP, host: str = "localhost") -> MailServer:
    return MailServer(host, server.implicit_port, Security.implicit_tls)


def starttls(server: SandboxSMTP, host: str = "localhost") -> MailServer:
    return MailServer(host, server.starttls_port, Security.starttls)


def message() -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = ALICE
    msg["To"] = "prospect@example.org"
    msg["Subject"] = "Re: pricing"
    msg["In-Reply-To"] = "<original@example.org>"
    msg.set_content("Thanks!\n")
    return msg


@pytest.mark.parametrize("mode", ["implicit", "starttls"])
async def test_send_is_one_call_with_an_explicit_envelope(
    smtp_server: SandboxSMTP, sandbox_ca: SandboxCA, mode: str
) -> None:
    server = implicit(smtp_server) if mode == "implicit" else starttls(smtp_server)
    envelope = ["prospect@example.org", "crm@example.org"]  # the second is a Bcc
    result = await connector(sandbox_ca).send(
        server, ALICE, ALICE_PASSWORD, message(), sender=ALICE, recipients=envelope
    )
    [received] = await smtp_server.wait_for_messages(1)
    assert (received.mail_from, received.rcpt_tos, received.login) == (ALICE, envelope, ALICE)
    assert received.message["In-Reply-To"] == "<original@example.org>"
    assert result.reply == "2.0.0 OK: queued" and result.refused == {}


async def test_a_session_sends_several_messages_and_reports_refused_recipients(
    smtp_server: SandboxSMTP, sandbox_ca: SandboxCA
) -> None:
    smtp_server.reject_recipients = {"gone@example.org"}
    async with connector(sandbox_ca).session(starttls(smtp_server), BOB, "bob-pw") as smtp:
        first = await smtp.send(message(), sender=BOB, recipients=["a@example.org"])
        second = await smtp.send(
            message(), sender=BOB, recipients=["b@example.org", "gone@example.org"]
        )
        with pytest.raises(MailPermanent) as caught:
            await smtp.send(message(), sender=BOB, recipients=["gone@example.org"])
    assert first.refused == {}
    assert list(second.refused) == ["gone@example.org"]
    assert second.refused["gone@example.org"].startswith("550 5.1.1")
    assert (caught.value.code, caught.value.stage) == ("SMTP_RECIPIENTS_REFUSED", "send")
    assert [m.rcpt_tos for m in smtp_server.messages] == [["a@example.org"], ["b@example.org"]]


async def test_wrong_password_is_a_permanent_auth_failure_with_the_servers_reply(
    smtp_server: SandboxSMTP, sandbox_ca: SandboxCA
) -> None:
    with pytest.raises(MailPermanent) as caught:
        await connector(sandbox_ca).open(starttls(smtp_server), ALICE, "wrong")
    error = caught.value
    assert (error.code, error.stage) == ("SMTP_AUTH_FAILED", "auth")
    assert error.reply == "535 5.7.8 Authentication credentials invalid"
    assert "app password" in (error.hint or "")
    assert "wrong" not in str(error) + (error.hint or "")


async def test_plaintext_to_an_implicit_tls_port_fails_fast_with_a_mode_mismatch(
    smtp_server: SandboxSMTP, sandbox_ca: SandboxCA
) -> None:
    server = MailServer("localhost", smtp_server.implicit_port, Security.starttls)
    started = time.monotonic()
    with pytest.raises(MailPermanent) as caught:
        await connector(sandbox_ca).open(server, ALICE, ALICE_PASSWORD)
    assert time.monotonic() - started < TIMEOUT / 4  # far from the 20 s timeout
    assert (caught.value.code, caught.value.stage) == ("SMTP_TLS_MODE_MISMATCH", "greeting")
    assert "expects implicit TLS" in (caught.value.hint or "")


async def test_implicit_tls_to_a_starttls_port_is_a_mode_mismatch(
    smtp_server: SandboxSMTP, sandbox_ca: SandboxCA
) -> None:
    server = MailServer("localhost", smtp_server.starttls_port, Security.implicit_tls)
    with pytest.raises(MailPermanent) as caught:
        await connector(sandbox_ca).open(server, ALICE, ALICE_PASSWORD)
    assert (caught.value.code, caught.value.stage) == ("SMTP_TLS_MODE_MISMATCH", "tls")
    assert "expects STARTTLS" in (caught.value.hint or "")


async def test_an_untrusted_certificate_is_refused_with_a_hint(
    smtp_server: SandboxSMTP, sandbox_ca: SandboxCA
) -> None:
    untrusting = SmtpConnector(ssl.create_default_context(), timeout=TIMEOUT, allowed=LOOPBACK)
    for server, stage in [(implicit(smtp_server), "tls"), (starttls(smtp_server), "starttls")]:
        with pytest.raises(MailPermanent) as caught:
            await untrusting.open(server, ALICE, ALICE_PASSWORD)
        assert (caught.value.code, caught.value.stage) == ("SMTP_TLS_FAILED", stage)
        assert "PERCH_TLS_CA_FILE" in (caught.value.hint or "")


async def test_the_certificate_is_checked_against_the_name_given(sandbox_ca: SandboxCA) -> None:
    async with SandboxSMTP(sandbox_ca, {ALICE: ALICE_PASSWORD}, host="127.0.0.2") as other:
        with pytest.raises(MailPermanent) as caught:
            await connector(sandbox_ca).open(implicit(other, "127.0.0.2"), ALICE, ALICE_PASSWORD)
    assert caught.value.code == "SMTP_TLS_FAILED"
    assert "not valid for '127.0.0.2'" in (caught.value.hint or "")


async def test_a_closed_port_is_a_transient_refusal(sandbox_ca: SandboxCA) -> None:
    server = MailServer("127.0.0.1", free_port(), Security.starttls)
    with pytest.raises(MailTransient) as caught:
        await connector(sandbox_ca).open(server, ALICE, ALICE_PASSWORD)
    assert (caught.value.code, caught.value.stage) == ("SMTP_CONNECTION_REFUSED", "tcp")


async def test_a_name_that_does_not_resolve(sandbox_ca: SandboxCA) -> None:
    server = MailServer("smtp.nowhere.invalid", 587, Security.starttls)
    with pytest.raises(MailPermanent) as caught:
        await connector(sandbox_ca).open(server, ALICE, ALICE_PASSWORD)
    assert (caught.value.code, caught.value.stage) == ("DNS_NOT_FOUND", "dns")


async def test_loopback_is_refused_without_the_allow_list_and_never_contacted(
    sandbox_ca: SandboxCA,
) -> None:
    async with counting_listener() as listener:
        server = MailServer("127.0.0.1", listener.port, Security.starttls)
        with pytest.raises(MailPermanent) as caught:
            await connector(sandbox_ca, allowed=[]).open(server, ALICE, ALICE_PASSWORD)
    assert caught.value.code == "HOST_NOT_ALLOWED"
    assert "PERCH_ALLOWED_NETWORKS" in (caught.value.hint or "")
    assert listener.connections == 0


async def test_a_server_that_never_greets_times_out_at_the_greeting(
    sandbox_ca: SandboxCA,
) -> None:
    async with SandboxSMTP(sandbox_ca, {ALICE: ALICE_PASSWORD}, faults=Faults(stall=True)) as s:
        with pytest.raises(MailTransient) as caught:
            await connector(sandbox_ca, timeout=2).open(starttls(s), ALICE, ALICE_PASSWORD)
    assert (caught.value.code, caught.value.stage) == ("SMTP_TIMEOUT", "greeting")


async def test_starttls_required_fails_when_the_server_does_not_offer_it(
    sandbox_ca: SandboxCA,
) -> None:
    loop = asyncio.get_running_loop()
    plain = await loop.create_server(lambda: SMTP(Sink()), "127.0.0.1", 0)  # no STARTTLS
    port = plain.sockets[0].getsockname()[1]
    try:
        for security, code in [
            (Security.starttls_required, "SMTP_STARTTLS_UNAVAILABLE"),
            (Security.starttls, "SMTP_AUTH_UNAVAILABLE"),  # no TLS, and no AUTH offered either
        ]:
            with pytest.raises(MailPermanent) as caught:
                await connector(sandbox_ca).open(
                    MailServer("127.0.0.1", port, security), ALICE, ALICE_PASSWORD
                )
            assert caught.value.code == code
    finally:
        plain.close()


async def test_a_slow_greeting_is_not_mistaken_for_a_tls_port(sandbox_ca: SandboxCA) -> None:
    slow = Faults(handshake_delay=1.5)  # longer than the 1 s after which Perch probes for TLS
    async with SandboxSMTP(sandbox_ca, {ALICE: ALICE_PASSWORD}, faults=slow) as server:
        smtp = connector(sandbox_ca)
        for _ in range(2):  # the second time the port is known to greet: no probe
            session = await smtp.open(starttls(server), ALICE, ALICE_PASSWORD)
            await session.close()
