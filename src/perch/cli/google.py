"""``perch google``: connect an account to its Google Workspace, show it, disconnect it."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import TypeVar

import typer
from sqlalchemy.ext.asyncio import AsyncSession

from perch.cli.common import fail, load_settings
from perch.server.auth import repository as auth_repository
from perch.server.errors import InvalidFields, PerchError
from perch.server.google import service as google_service
from perch.server.google.schemas import GoogleConnectionRead
from perch.server.migrate import upgrade_async
from perch.server.runtime import ConfigError, Runtime

app = typer.Typer(help="Google Workspace connections (one per account).", no_args_is_help=True)
T = TypeVar("T")


@app.command("connect")
def connect(
    account: str = typer.Option(..., "--account", help="Account name (must exist)."),
    key_file: Path = typer.Option(
        ..., "--key-file", exists=True, dir_okay=False, help="The service account's JSON key."
    ),
    admin_email: str = typer.Option(
        ..., "--admin-email", help="A Workspace administrator to act as."
    ),
) -> None:
    """Check that Google grants a token, then save the connection (the key encrypted)."""
    key = key_file.read_text()

    async def work(
        session: AsyncSession, runtime: Runtime, account_id: int
    ) -> GoogleConnectionRead:
        return await google_service.connect(session, runtime, account_id, key, admin_email)

    connection = _run(account, work)
    typer.echo(f"account {account!r} connected to Google Workspace as {connection.admin_email}")
    _describe(connection)


@app.command("show")
def show(account: str = typer.Option(..., "--account", help="Account name.")) -> None:
    """The account's connection (never the key)."""

    async def work(
        session: AsyncSession, runtime: Runtime, account_id: int
    ) -> GoogleConnectionRead:
        return await google_service.get(session, account_id)

    typer.echo(json.dumps(_run(account, work).model_dump(), indent=2))


@app.command("disconnect")
def disconnect(account: str = typer.Option(..., "--account", help="Account name.")) -> None:
    """Forget the account's connection (its Workspace users are left as they are)."""

    async def work(session: AsyncSession, runtime: Runtime, account_id: int) -> None:
        await google_service.disconnect(session, account_id)

    _run(account, work)
    typer.echo(f"account {account!r} disconnected from Google Workspace")


def _describe(connection: GoogleConnectionRead) -> None:
    typer.echo(f"service account {connection.client_email} (client id {connection.client_id})")
    typer.echo("domain-wide delegation must grant these scopes to that client id:")
    for scope in connection.scopes:
        typer.echo(f"  {scope}")


def _run(account: str, work: Callable[[AsyncSession, Runtime, int], Awaitable[T]]) -> T:
    """``work`` in one transaction of a migrated database; service errors end the command."""

    async def main() -> T:
        async with _runtime() as runtime, runtime.session() as session:
            row = await auth_repository.account_by_name(session, account)
            if row is None:
                raise fail(
                    f"no account named {account!r} (create it with `perch api-key create`)", 1
                )
            return await work(session, runtime, row.id)

    try:
        return asyncio.run(main())
    except InvalidFields as e:
        raise fail("\n".join(f"{f.field}: {f.issue}" for f in e.fields), code=1) from e
    except PerchError as e:
        raise fail(e.detail, code=1) from e


@contextlib.asynccontextmanager
async def _runtime() -> AsyncIterator[Runtime]:
    settings = load_settings()
    try:
        runtime = Runtime(settings)
    except ConfigError as e:
        raise fail(str(e)) from e
    await upgrade_async(settings.database_url)
    try:
        yield runtime
    finally:
        await runtime.close()
