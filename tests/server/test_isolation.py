"""The isolation matrix: every endpoint, called with another account's ids, answers exactly as
if they did not exist.

Each feature adds its endpoints in ``tests/server/<domain>/isolation_cases.py``, a module with
``CASES: list[IsolationCase]``: a setup that creates a resource as its owner and returns the
request that reaches it, and the same request for an id that does not exist. They are
discovered here.
"""

from __future__ import annotations

import pytest

from tests.fixtures.app import ApiUser
from tests.fixtures.isolation import IsolationCase


def _discover() -> list[IsolationCase]:
    import importlib
    from pathlib import Path

    cases: list[IsolationCase] = []
    for path in sorted(Path(__file__).parent.glob("*/isolation_cases.py")):
        module = importlib.import_module(f"tests.server.{path.parent.name}.isolation_cases")
        cases.extend(module.CASES)
    return cases


CASES = _discover()


def _strip_volatile(body: bytes) -> bytes:
    import json

    try:
        data = json.loads(body)
    except ValueError:
        return body
    if isinstance(data, dict):
        data.pop("timestamp", None)
        data.pop("request_id", None)
    return json.dumps(data, sort_keys=True).encode()


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
async def test_other_accounts_resources_do_not_exist(
    case: IsolationCase, user: ApiUser, other_user: ApiUser, request: pytest.FixtureRequest
) -> None:
    reach = await case.make(user, request)
    owner = await user.client.request(
        reach.method, reach.path, json=reach.json, headers=reach.headers
    )
    assert owner.status_code < 400, owner.text
    stranger = await other_user.client.request(
        reach.method, reach.path, json=reach.json, headers=reach.headers
    )
    missing = case.missing()
    nowhere = await other_user.client.request(
        missing.method, missing.path, json=missing.json, headers=missing.headers
    )
    assert stranger.status_code == nowhere.status_code
    assert _strip_volatile(stranger.content) == _strip_volatile(nowhere.content)


def test_the_matrix_covers_every_account_scoped_endpoint() -> None:
    """Guard: grows with each feature; the foundation itself has no account-owned endpoint."""
    names = [case.name for case in CASES]
    assert len(names) == len(set(names))
