"""``perch account``: settings of an account (its notification address)."""

from __future__ import annotations

import asyncio

import typer
from email_validator import EmailNotValidError, validate_email

from perch.cli.common import fail, load_settings, migrated_session
from perch.server.notification import service as notification_service

app = typer.Typer(help="Accounts (teams) and their settings.", no_args_is_help=True)


@app.command("set-notification-email")
def set_notification_email(
    email: str | None = typer.Argument(None, help="Where completion mails go; omit with --clear."),
    account: str = typer.Option(..., "--account", help="Account name."),
    clear: bool = typer.Option(False, "--clear", help="Remove the address: no more mails."),
) -> None:
    """Set the address that receives the account's notification mails (e.g. batch results)."""
    if (email is None) == (not clear):
        fail("give an EMAIL, or --clear")
    if email is not None:
        try:
            validate_email(email.strip(), check_deliverability=False, test_environment=True)
        except EmailNotValidError as e:
            fail(f"{email!r} is not a valid email address: {e}")

    async def run() -> str | None:
        async with migrated_session(load_settings()) as session:
            row = await notification_service.set_notification_email(session, account, email)
            return row.notification_email

    try:
        stored = asyncio.run(run())
    except notification_service.UnknownAccount:
        fail(f"no account named {account!r}", code=1)
    typer.echo(f"account {account!r}: notification email {stored or 'removed'}")
