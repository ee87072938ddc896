"""``perch account set-notification-email``: set, clear, refuse bad input."""

from __future__ import annotations

import sqlite3
import subprocess
from pathlib import Path

from perch.server.kit.crypto import generate_key
from tests.helpers import PERCH, perch_env


def _perch(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = perch_env(
        PERCH_DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path}/cli.db",
        PERCH_SECRET_KEYS=generate_key(),
    )
    return subprocess.run(
        [PERCH, *args], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60
    )


def _stored(tmp_path: Path) -> str | None:
    with sqlite3.connect(tmp_path / "cli.db") as db:
        row = db.execute("SELECT notification_email FROM account WHERE name = 'acme'").fetchone()
    return row[0]


def test_set_and_clear_the_notification_email(tmp_path: Path) -> None:
    assert _perch(tmp_path, "api-key", "create", "--account", "acme").returncode == 0
    command = ["account", "set-notification-email", "--account", "acme"]

    done = _perch(tmp_path, *command, "Ops@GetPiedPiper.com")
    assert done.returncode == 0, done.stderr
    assert "ops@getpiedpiper.com" in done.stdout
    assert _stored(tmp_path) == "ops@getpiedpiper.com"

    cleared = _perch(tmp_path, *command, "--clear")
    assert cleared.returncode == 0 and _stored(tmp_path) is None


def test_bad_input_is_refused(tmp_path: Path) -> None:
    assert _perch(tmp_path, "api-key", "create", "--account", "acme").returncode == 0
    unknown = _perch(tmp_path, "account", "set-notification-email", "--account", "x", "a@b.co")
    assert unknown.returncode == 1 and "no account named 'x'" in unknown.stderr
    invalid = _perch(tmp_path, "account", "set-notification-email", "--account", "acme", "nope")
    assert invalid.returncode == 2 and "not a valid email address" in invalid.stderr
    neither = _perch(tmp_path, "account", "set-notification-email", "--account", "acme")
    assert neither.returncode == 2 and "give an EMAIL, or --clear" in neither.stderr
    assert _stored(tmp_path) is None
