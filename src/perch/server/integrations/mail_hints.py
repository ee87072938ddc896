"""Hints for refused mail logins, read from the provider's own reply.

    auth_hint("SMTP", "534 5.7.9 Application-specific password required...")
    -> "this server wants an app password: ..."

Gmail, Outlook / Microsoft 365 and generic servers word their refusals differently; the hint
tells a person what to change (an app password, SMTP AUTH in the tenant, the login).
"""

from __future__ import annotations

_APP_PASSWORD = (
    "this server wants an app password: with two-step verification on, create an app "
    "password in the account's security settings and use it instead of the account password"
)
_AUTH_HINTS = (
    (("application-specific password", "app password", "invalidsecondfactor"), _APP_PASSWORD),
    (
        ("username and password not accepted", "badcredentials"),
        "Gmail refused the login: " + _APP_PASSWORD + " (Google Account → Security → App "
        "passwords); also check the address",
    ),
    (
        ("smtpclientauthentication is disabled",),
        "authenticated SMTP is turned off for this Microsoft 365 mailbox or tenant: enable "
        "SMTP AUTH in the Microsoft 365 admin center, or connect it as a Microsoft mailbox",
    ),
    (
        ("basic authentication is disabled",),
        "Microsoft has turned off password logins for this tenant: connect the mailbox as a "
        "Microsoft mailbox instead",
    ),
    (
        ("5.7.139", "5.7.3 authentication unsuccessful"),
        "Outlook refused the login: " + _APP_PASSWORD,
    ),
)


def auth_hint(protocol: str, reply: str) -> str:
    """What to do about a refused login, from the server's own words."""
    text = reply.lower()
    for needles, hint in _AUTH_HINTS:
        if any(needle in text for needle in needles):
            return hint
    login = "the login (smtp_login, or the email)" if protocol == "SMTP" else "the imap_email"
    return (
        f"check {login} and the password; providers with two-step verification "
        "(Gmail, Outlook, Yahoo, iCloud) need an app password"
    )
