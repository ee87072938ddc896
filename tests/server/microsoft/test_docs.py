"""The copy-paste examples of docs/microsoft.md, run against the fakes."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from tests.fixtures.app import ApiUser
from tests.server.microsoft.conftest import BULK, CREDENTIALS, FUTURE, SECRET

DOC = (Path(__file__).parents[3] / "docs" / "microsoft.md").read_text()


def _curl_body(path: str) -> dict[str, Any]:
    found = re.search(re.escape(path) + r" \\\n.*?-d '(.*?)'\n", DOC, re.DOTALL)
    assert found, path
    body: dict[str, Any] = json.loads(found.group(1))
    return body


def _json_blocks() -> list[Any]:
    return [json.loads(block) for block in re.findall(r"```json\n(.*?)```", DOC, re.DOTALL)]


async def test_the_documented_requests_give_the_documented_answers(user: ApiUser) -> None:
    # The real secret of the fake's app, and an expiry that stays in the future.
    credential_body = _curl_body(CREDENTIALS) | {
        "client_secret": SECRET,
        "secret_expires_at": FUTURE,
    }
    created = await user.client.post(CREDENTIALS, json=credential_body)
    assert created.status_code == 201
    documented_credential, documented_results = _json_blocks()[:2]
    assert created.json() == documented_credential | {
        "credential_id": created.json()["credential_id"],
        "secret_expires_at": FUTURE,
    }
    bulk_body = _curl_body(BULK) | {"credential_id": created.json()["credential_id"]}
    response = await user.client.post(BULK, json=bulk_body)
    assert response.status_code == 207
    results = response.json()
    assert results == [documented_results[0] | {"id": results[0]["id"]}, documented_results[1]]
