"""``perch db``: schema migrations."""

from __future__ import annotations

import typer

from perch.cli.common import load_settings
from perch.server import migrate

app = typer.Typer(help="Database schema.", no_args_is_help=True)


@app.command("upgrade")
def upgrade(revision: str = typer.Argument("head", help="Target revision.")) -> None:
    """Create or migrate the database in PERCH_DATABASE_URL to the latest schema."""
    settings = load_settings()
    migrate.upgrade(settings.database_url, revision)
    typer.echo(f"database is at revision {revision}")


@app.command("check")
def check() -> None:
    """Fail when the models and the migrations disagree (no drift allowed)."""
    settings = load_settings()
    migrate.check(settings.database_url)
    typer.echo("no drift between models and migrations")
