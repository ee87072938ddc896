"""``perch google``: connect against the sandbox Workspace over HTTPS, show, disconnect."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from perch.sandbox import SandboxCA
from perch.sandbox.google import GoogleWorkspace
from perch.server.kit.crypto import generate_key
from tests.helpers import PERCH, perch_env

ADMIN = "admin@piedpiper.com"
Perch = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def workspace(sandbox_ca: SandboxCA) -> Iterator[GoogleWorkspace]:
    workspace = GoogleWorkspace()
    workspace.add_admin(ADMIN)
    with workspace.serve(sandbox_ca):
        yield workspace


@pytest.fixture
def perch(tmp_path: Path, workspace: GoogleWorkspace, ca_bundle: Path) -> Perch:
    env = perch_env(
        PERCH_DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path}/cli.db",
        PERCH_SECRET_KEYS=generate_key(),
        PERCH_GOOGLE_TOKEN_URL=workspace.token_url,
        PERCH_GOOGLE_DIRECTORY_URL=workspace.directory_url,
        PERCH_TLS_CA_FILE=str(ca_bundle),
        PERCH_HTTP_MAX_RETRIES="0",
    )

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [PERCH, *args], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60
        )

    return run


def test_connect_show_disconnect(perch: Perch, workspace: GoogleWorkspace, tmp_path: Path) -> None:
    account = workspace.add_service_account()
    key_file = tmp_path / "sa.json"
    key_file.write_text(account.key_json())
    assert perch("api-key", "create", "--account", "acme").returncode == 0

    connected = perch(
        "google",
        "connect",
        "--account",
        "acme",
        "--key-file",
        str(key_file),
        "--admin-email",
        ADMIN,
    )
    assert connected.returncode == 0, connected.stderr
    assert account.client_id in connected.stdout
    assert "admin.directory.user" in connected.stdout
    assert [r.status for r in workspace.served("POST", "/token")] == [200]

    shown = perch("google", "show", "--account", "acme")
    assert json.loads(shown.stdout)["client_email"] == account.client_email
    assert "PRIVATE KEY" not in shown.stdout

    assert perch("google", "disconnect", "--account", "acme").returncode == 0
    missing = perch("google", "show", "--account", "acme")
    assert missing.returncode == 1 and "No Google Workspace connection" in missing.stderr


def test_refusals_say_why(perch: Perch, workspace: GoogleWorkspace, tmp_path: Path) -> None:
    account = workspace.add_service_account()
    key_file = tmp_path / "sa.json"
    key_file.write_text(account.key_json())
    args = ("google", "connect", "--key-file", str(key_file), "--admin-email")
    nobody = perch(*args, ADMIN, "--account", "nobody")
    assert nobody.returncode == 1 and "no account named 'nobody'" in nobody.stderr

    perch("api-key", "create", "--account", "acme")
    refused = perch(*args, "gavin@hooli.xyz", "--account", "acme")
    assert refused.returncode == 1
    assert "admin_email: Google refused a token: invalid_grant" in refused.stderr
