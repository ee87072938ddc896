"""``perch secrets``: encryption keys for secrets at rest."""

from __future__ import annotations

import typer

from perch.server.kit.crypto import generate_key

app = typer.Typer(help="Encryption keys for stored secrets.", no_args_is_help=True)


@app.command("generate-key")
def generate() -> None:
    """Print a new key for PERCH_SECRET_KEYS (put it first to encrypt with it)."""
    typer.echo(generate_key())
