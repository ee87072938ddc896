"""The ``perch`` command. Thin: it parses arguments and calls services."""

from __future__ import annotations

import typer

from perch.cli import accounts, api_keys, database, google, secrets, serve

app = typer.Typer(
    help="Perch: self-hosted mailboxes, domains and inbox behind the Woodpecker REST API v2.",
    no_args_is_help=True,
    add_completion=False,
)
app.command("serve")(serve.serve)
app.command("worker")(serve.worker)
app.command("sandbox")(serve.sandbox)
app.add_typer(accounts.app, name="account")
app.add_typer(api_keys.app, name="api-key")
app.add_typer(database.app, name="db")
app.add_typer(google.app, name="google")
app.add_typer(secrets.app, name="secrets")

if __name__ == "__main__":  # pragma: no cover
    app()
