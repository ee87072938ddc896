"""The copy-paste example of docs/domains.md, run request by request against Perch."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

from perch.sandbox.google import GoogleWorkspace, ServiceAccount
from tests.fixtures.app import ApiUser
from tests.helpers import until
from tests.server.domain.helpers import RICHARD, connect, wait_status

DOC = Path(__file__).parents[3] / "docs" / "domains.md"


def _example() -> list[tuple[str, str, object, int]]:
    """(method, path, body, status) of each curl command of the first ``sh`` block."""
    block = re.search(r"```sh\n(.*?)```", DOC.read_text(), re.S)
    assert block is not None
    commands = re.split(r"\n\s*\n", block.group(1).strip())
    return [_parse(command) for command in commands]


def _parse(command: str) -> tuple[str, str, object, int]:
    *lines, expected = command.splitlines()
    words = shlex.split(" ".join(line.rstrip("\\") for line in lines))
    method = words[words.index("-X") + 1] if "-X" in words else "GET"
    url = next(w for w in words if w.startswith("$PERCH"))
    body = json.loads(words[words.index("--data") + 1]) if "--data" in words else None
    status = int(expected.removeprefix("# ").split()[0])
    return method, url.removeprefix("$PERCH"), body, status


async def test_the_documented_example_works(
    user: ApiUser, workspace: GoogleWorkspace, service_account: ServiceAccount
) -> None:
    assert (await connect(user.client, service_account)).status_code == 200  # perch google connect
    steps = _example()
    assert [s[0] for s in steps] == ["POST", "POST", "GET", "PATCH", "GET", "DELETE"]
    for method, path, body, status in steps:
        if method == "PATCH":
            await wait_status(user.client, "PAID")  # "repeat until the mailbox's status is PAID"
        response = await user.client.request(method, path, json=body)
        assert response.status_code == status, (method, path, response.text)
    assert [r.status for r in workspace.served("PUT", "/photos")] == [200]

    async def deleted() -> bool:
        return workspace.user(RICHARD) is None

    await until(deleted)
