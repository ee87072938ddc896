"""The domain endpoints in the isolation matrix (``tests/server/test_isolation.py``).

Each setup starts a sandbox Google Workspace, points the running Perch at it, and orders
``richard@piedpiper.com`` as the owner (PAID). The "missing" request names a mailbox nobody has
*in the same domain name*: these 422 bodies echo the domain name as ``value``, so only the same
name compares; another account's domain must then answer exactly like a domain it lacks.

``POST /mailboxes/order`` is not here: its 422 echoes the whole address, so no other request
can compare equal. ``test_order.py::test_another_accounts_domain_cannot_take_orders`` covers it.
"""

from __future__ import annotations

import threading
from typing import Any

import pytest

from perch.sandbox import SandboxCA
from perch.server.runtime import Runtime
from tests.fixtures.app import ApiUser
from tests.fixtures.isolation import IsolationCase, Request
from tests.server.domain.helpers import (
    DOMAIN,
    b64,
    image,
    mailbox_path,
    new_workspace,
    paid_mailbox,
)

NOBODY = "nobody@piedpiper.com"
AVATAR = {"avatar": b64(image())}


async def _owner_with_mailbox(owner: ApiUser, request: pytest.FixtureRequest) -> None:
    runtime: Runtime = request.getfixturevalue("runtime")
    ca: SandboxCA = request.getfixturevalue("sandbox_ca")
    workspace = new_workspace()
    serving = workspace.serve(ca)
    await serving.__aenter__()
    # Stopped in the background: the server's TLS shutdown waits for Perch's client to close.
    request.addfinalizer(lambda: threading.Thread(target=serving.__exit__, daemon=True).start())
    runtime.settings.google_token_url = workspace.token_url
    runtime.settings.google_directory_url = workspace.directory_url
    runtime.ssl_context.load_verify_locations(cadata=ca.ca_pem.decode())
    await paid_mailbox(owner.client, workspace.add_service_account())


def _case(name: str, method: str, path: str, missing_path: str, json: Any = None) -> IsolationCase:
    async def make(owner: ApiUser, request: pytest.FixtureRequest) -> Request:
        await _owner_with_mailbox(owner, request)
        return Request(method, path, json)

    return IsolationCase(name, make, lambda: Request(method, missing_path, json))


CASES = [
    _case("domain.get", "GET", f"/rest/v2/domains/{DOMAIN}", "/rest/v2/domains/nowhere.com"),
    _case(
        "domain.mailboxes",
        "GET",
        f"/rest/v2/domains/{DOMAIN}/mailboxes",
        "/rest/v2/domains/nowhere.com/mailboxes",
    ),
    _case("domain.mailbox", "GET", mailbox_path(), mailbox_path("nowhere.com", "a@nowhere.com")),
    _case(
        "domain.profile_picture",
        "PATCH",
        mailbox_path() + "/profile_picture",
        mailbox_path(DOMAIN, NOBODY) + "/profile_picture",
        AVATAR,
    ),
    _case("domain.delete_mailbox", "DELETE", mailbox_path(), mailbox_path(DOMAIN, NOBODY)),
]
