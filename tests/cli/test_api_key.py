"""``perch api-key``: the key alone on the last line, list without keys, revoke."""

from __future__ import annotations

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


def test_create_list_revoke(tmp_path: Path) -> None:
    created = _perch(tmp_path, "api-key", "create", "--account", "acme", "--label", "ci")
    assert created.returncode == 0, created.stderr
    key = created.stdout.strip().splitlines()[-1]
    assert key.startswith("perch_") and len(key) > 40
    assert created.stdout.strip() == key  # nothing else on stdout

    listed = _perch(tmp_path, "api-key", "list")
    assert "acme" in listed.stdout and "active" in listed.stdout
    assert key not in listed.stdout

    revoked = _perch(tmp_path, "api-key", "revoke", "1")
    assert revoked.returncode == 0
    assert "revoked" in _perch(tmp_path, "api-key", "list").stdout
    again = _perch(tmp_path, "api-key", "revoke", "1")
    assert again.returncode == 1 and "no active key" in again.stderr


def test_help_describes_every_command(tmp_path: Path) -> None:
    out = _perch(tmp_path, "--help").stdout
    for command in ("serve", "worker", "sandbox", "api-key", "db", "secrets"):
        assert command in out
