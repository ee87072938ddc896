"""``perch secrets``: encryption keys for secrets at rest."""

from __future__ import annotations

import asyncio

import typer

from perch.cli.common import fail, load_settings
from perch.server.kit.crypto import SecretUnreadable, generate_key

app = typer.Typer(help="Encryption keys for stored secrets.", no_args_is_help=True)


@app.command("generate-key")
def generate() -> None:
    """Print a new key for PERCH_SECRET_KEYS (put it first to encrypt with it)."""
    typer.echo(generate_key())


@app.command("rotate")
def rotate() -> None:
    """Re-encrypt every stored secret under the first key of PERCH_SECRET_KEYS.

    Safe while Perch is running. Afterwards the keys after the first can be removed.
    """
    from perch.server.runtime import Runtime
    from perch.server.secret import service

    settings = load_settings()

    async def run() -> list[service.ColumnReport]:
        runtime = Runtime(settings)
        try:
            return await service.rotate_all(
                runtime, lambda r: typer.echo(f"  {r.column}: {r.rotated}", err=True)
            )
        finally:
            await runtime.close()

    try:
        reports = asyncio.run(run())
    except SecretUnreadable:
        fail(
            "a stored secret cannot be decrypted with any key in PERCH_SECRET_KEYS; "
            "the secrets after it were not rotated"
        )
    for report in reports:
        changed = report.changed_meanwhile
        typer.echo(f"{report.column}: {report.rotated} re-encrypted, {changed} changed meanwhile")
