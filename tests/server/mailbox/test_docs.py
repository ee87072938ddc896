"""The copy-paste example of docs/mailboxes.md, run against the sandbox peers."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from perch.sandbox import SandboxIMAP, SandboxSMTP
from tests.fixtures.app import ApiUser
from tests.server.mailbox.conftest import BULK, finished

DOC = (Path(__file__).parents[3] / "docs" / "mailboxes.md").read_text()
USERS = {"demo@perch.example": "demo-password", "demo2@perch.example": "demo2-password"}


def _documented_body() -> str:
    found = re.search(re.escape(BULK) + r" \\\n.*?-d '(.*?)'\n", DOC, re.DOTALL)
    assert found
    return found.group(1)


def _json_blocks() -> list[Any]:
    return [json.loads(block) for block in re.findall(r"```json\n(.*?)```", DOC, re.DOTALL)]


async def test_the_documented_example(
    user: ApiUser, smtp_server: SandboxSMTP, imap_server: SandboxIMAP
) -> None:
    for login, password in USERS.items():
        smtp_server.add_user(login, password)
        await imap_server.add_user(login, password)
    real = {"2587": str(smtp_server.starttls_port), "2143": str(imap_server.starttls_port)}
    body = _documented_body()
    for documented, port in real.items():
        body = body.replace(f": {documented}", f": {port}")
    response = await user.client.post(
        BULK, content=body, headers={"Content-Type": "application/json"}
    )
    created, summary, listing = _json_blocks()
    assert response.status_code == 202 and response.json() == created

    def as_documented(value: Any) -> Any:
        text = json.dumps(value)
        for documented, port in real.items():
            text = text.replace(port, documented)
        return json.loads(text)

    assert as_documented(await finished(user.client, created["batch_id"])) == summary
    assert as_documented((await user.client.get("/rest/v2/mailboxes")).json()) == listing
    patched = await user.client.patch(
        "/rest/v2/mailboxes/1", json={"footer": "<div>Cheers, Demo</div>"}
    )
    assert patched.status_code == 200
