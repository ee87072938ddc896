"""Fuzzing every operation of /openapi.json with schemathesis against a real ``perch serve``.

Fixed seed and a small example budget so it fits CI. Checks: no 5xx, every status documented,
every body and content type as documented.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import httpx
import pytest

from perch.server.kit.crypto import generate_key
from tests.cli.test_serve import running
from tests.helpers import PERCH, free_port, perch_env, until

ST = str(Path(PERCH).parent / "st")
CHECKS = "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance"


@pytest.mark.slow
async def test_every_operation_survives_fuzzing(tmp_path: Path) -> None:
    closed = free_port()
    env = perch_env(
        PERCH_DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path}/fuzz.db",
        PERCH_SECRET_KEYS=generate_key(),
        PERCH_RATE_CONCURRENCY="8",
        PERCH_RATE_QUEUE="64",
        PERCH_LOG_LEVEL="WARNING",
        # outside services on a closed loopback port: fuzzing never reaches the real ones
        PERCH_MICROSOFT_LOGIN_URL=f"https://127.0.0.1:{closed}",
        PERCH_MICROSOFT_GRAPH_URL=f"https://127.0.0.1:{closed}/v1.0",
        PERCH_GOOGLE_TOKEN_URL=f"https://127.0.0.1:{closed}/token",
        PERCH_GOOGLE_DIRECTORY_URL=f"https://127.0.0.1:{closed}/admin/directory/v1",
        PERCH_HTTP_MAX_RETRIES="0",
    )
    created = subprocess.run(
        [PERCH, "api-key", "create", "--account", "fuzz"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    )
    key = created.stdout.strip().splitlines()[-1]
    port = free_port()
    with running(["serve", "--port", str(port)], env, tmp_path):

        async def up() -> bool:
            try:
                async with httpx.AsyncClient() as client:
                    return (await client.get(f"http://127.0.0.1:{port}/healthz")).status_code == 200
            except httpx.TransportError:
                return False

        await until(up, timeout=30)
        result = subprocess.run(
            [
                ST,
                "run",
                f"http://127.0.0.1:{port}/openapi.json",
                "--header",
                f"x-api-key: {key}",
                "--checks",
                CHECKS,
                "--seed",
                "20261121",
                "--max-examples",
                "25",
                "--request-timeout",
                "20",
                "--phases",
                "examples,coverage,fuzzing",
                "--no-color",
            ],
            capture_output=True,
            text=True,
            timeout=900,
            env=perch_env(),
            cwd=tmp_path,
        )
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
    selected = re.search(r"Selected: (\d+)/(\d+)", result.stdout)
    tested = re.search(r"Tested: (\d+)", result.stdout)
    assert selected and tested, result.stdout[-3000:]
    assert (
        selected.group(1) == selected.group(2) == tested.group(1)
    )  # every operation was exercised
    assert "Failures:" not in result.stdout
