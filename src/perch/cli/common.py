"""What every command needs: settings, logging, a migrated database, clean config errors."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import typer
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from perch.server.config import Settings
from perch.server.db import create_engine, create_sessionmaker, session_scope
from perch.server.kit.logging import configure_logging
from perch.server.migrate import upgrade_async


def load_settings() -> Settings:
    try:
        settings = Settings()
    except ValidationError as e:
        fail(f"invalid settings:\n{e}")
    configure_logging(settings.log_level, settings.log_json)
    return settings


def fail(message: str, code: int = 2) -> typer.Exit:
    typer.secho(f"perch: {message}", err=True, fg=typer.colors.RED)
    raise typer.Exit(code)


@contextlib.asynccontextmanager
async def migrated_session(settings: Settings) -> AsyncIterator[AsyncSession]:
    """Brings the schema up to date, then one transaction."""
    await upgrade_async(settings.database_url)
    engine = create_engine(settings.database_url)
    try:
        async with session_scope(create_sessionmaker(engine)) as session:
            yield session
    finally:
        await engine.dispose()
