"""``perch api-key``: create, list and revoke API keys."""

from __future__ import annotations

import asyncio

import typer

from perch.cli.common import fail, load_settings, migrated_session
from perch.server.auth import service as auth_service
from perch.server.kit.timefmt import legacy
from perch.server.models import ApiKey

app = typer.Typer(help="API keys (each belongs to one account).", no_args_is_help=True)


@app.command("create")
def create(
    account: str = typer.Option(
        ..., "--account", help="Account name; created if it does not exist."
    ),
    label: str | None = typer.Option(None, help="A note to recognise the key by."),
) -> None:
    """Create a key. The key is printed alone on the last line and is never shown again."""

    async def run() -> auth_service.IssuedKey:
        async with migrated_session(load_settings()) as session:
            return await auth_service.issue_key(session, account, label)

    issued = asyncio.run(run())
    typer.echo(
        f"created key {issued.key_id} for account {issued.account.name!r}; store it now:", err=True
    )
    typer.echo(issued.key)


@app.command("list")
def list_keys(
    account: str | None = typer.Option(None, "--account", help="Only this account."),
) -> None:
    """List keys (never the keys themselves: only their first characters)."""

    async def run() -> list[str]:
        async with migrated_session(load_settings()) as session:
            rows = await auth_service.list_keys(session, account)
        return [_row(key, name) for key, name in rows]

    lines = asyncio.run(run())
    typer.echo(f"{'ID':>6}  {'ACCOUNT':<20} {'PREFIX':<14} {'CREATED':<19}  STATUS   LABEL")
    for line in lines:
        typer.echo(line)


def _row(key: ApiKey, account: str) -> str:
    status = "revoked" if key.revoked_at else "active"
    prefix, created = key.prefix + "…", legacy(key.created_at)
    return f"{key.id:>6}  {account:<20} {prefix:<14} {created}  {status:<8} {key.label or ''}"


@app.command("revoke")
def revoke(key_id: int = typer.Argument(..., help="The ID shown by `perch api-key list`.")) -> None:
    """Revoke a key: requests with it get 401 from now on."""

    async def run() -> bool:
        async with migrated_session(load_settings()) as session:
            return await auth_service.revoke_key(session, key_id)

    if not asyncio.run(run()):
        fail(f"no active key with id {key_id}", code=1)
    typer.echo(f"revoked key {key_id}")
