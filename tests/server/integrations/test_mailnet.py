"""Pure parts of the mail connection helpers: TLS mode by port, hints for refused logins."""

from __future__ import annotations

import pytest

from perch.server.integrations.mail_hints import auth_hint
from perch.server.integrations.mailnet import Security, security_for_port


@pytest.mark.parametrize(
    ("protocol", "port", "security"),
    [
        ("SMTP", 465, Security.implicit_tls),
        ("SMTP", 587, Security.starttls),
        ("SMTP", 25, Security.starttls),
        ("SMTP", 993, Security.starttls),
        ("IMAP", 993, Security.implicit_tls),
        ("IMAP", 143, Security.starttls),
        ("IMAP", 465, Security.starttls),
    ],
)
def test_implicit_tls_only_on_465_and_993(protocol: str, port: int, security: Security) -> None:
    assert security_for_port(protocol, port) is security


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        (
            "535 5.7.8 Username and Password not accepted. For more information, go to "
            "https://support.google.com/mail/?p=BadCredentials x1-20020a05 - gsmtp",
            "Gmail refused the login: this server wants an app password",
        ),
        (
            "534 5.7.9 Application-specific password required. For more information, go to "
            "https://support.google.com/mail/?p=InvalidSecondFactor - gsmtp",
            "this server wants an app password",
        ),
        (
            "535 5.7.139 Authentication unsuccessful, SmtpClientAuthentication is disabled for "
            "the Tenant. Visit https://aka.ms/smtp_auth_disabled for more information.",
            "authenticated SMTP is turned off",
        ),
        (
            "535 5.7.139 Authentication unsuccessful, basic authentication is disabled.",
            "Microsoft has turned off password logins",
        ),
        (
            "535 5.7.3 Authentication unsuccessful [AM0PR02CA0001.eurprd02.prod.outlook.com]",
            "Outlook refused the login: this server wants an app password",
        ),
        (
            "[ALERT] Application-specific password required: https://support.google.com/",
            "this server wants an app password",
        ),
        ("535 5.7.8 Authentication credentials invalid", "check the login"),
    ],
)
def test_auth_hints_read_the_providers_words(reply: str, expected: str) -> None:
    assert auth_hint("SMTP", reply).startswith(expected)


def test_imap_hint_names_the_imap_login() -> None:
    assert "imap_email" in auth_hint("IMAP", "[AUTHENTICATIONFAILED] Authentication failed.")
