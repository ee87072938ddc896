"""Is this address a Microsoft 365 mailbox Perch can read and send from, with this app?

    found = await probe(graph, app, token, "jim@contoso.com")
    found.user (a GraphUser) or found.error (an ItemCode)

1. ``GET /users/{address}`` and ``GET /users/{address}/mailFolders/inbox`` at once (two of the
   mailbox's four concurrent requests). A 404 for the user means the address is not a user
   principal name: ``$filter`` on mail / proxyAddresses tells a primary ``mail`` (then the
   inbox is asked again by user id) from an alias (``WRONG_ALIAS``) and from nobody
   (``USER_NOT_FOUND``).
2. The inbox answers: 404 ``MailboxNotEnabledForRESTAPI`` (or any 404 for an existing user):
   ``MAILBOX_NOT_ENABLED``; 403: ``PERMISSION_MISSING``.
3. Sending cannot be tried without sending, so the token's application roles must include
   ``Mail.Send`` and ``Mail.ReadWrite`` (replies are drafted, messages marked read) when the
   token says which roles it has.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from perch.server.integrations.microsoft import (
    AccessToken,
    AppCredential,
    GraphForbidden,
    GraphNotFound,
    GraphUser,
    MailFolder,
    MicrosoftError,
    MicrosoftGraph,
    MicrosoftUnavailable,
)
from perch.server.microsoft.errors import ItemCode

REQUIRED_ROLES = frozenset({"Mail.Send", "Mail.ReadWrite"})


@dataclass(frozen=True)
class Probe:
    user: GraphUser | None = None
    error: ItemCode | None = None


async def probe(
    graph: MicrosoftGraph, app: AppCredential, token: AccessToken, address: str
) -> Probe:
    user, inbox = await asyncio.gather(
        graph.get_user(app, address), graph.get_inbox(app, address), return_exceptions=True
    )
    if isinstance(user, GraphNotFound):
        return await _by_address(graph, app, token, address)
    if isinstance(user, BaseException):
        return Probe(error=_code(user))
    return _verdict(user, inbox, token)


async def _by_address(
    graph: MicrosoftGraph, app: AppCredential, token: AccessToken, address: str
) -> Probe:
    try:
        users = await graph.find_users_by_address(app, address)
    except MicrosoftError as e:
        return Probe(error=_code(e))
    primary = next((u for u in users if u.is_primary(address)), None)
    if primary is None:
        return Probe(error=ItemCode.WRONG_ALIAS if users else ItemCode.USER_NOT_FOUND)
    try:
        inbox: MailFolder | BaseException = await graph.get_inbox(app, primary.id)
    except MicrosoftError as e:
        inbox = e
    return _verdict(primary, inbox, token)


def _verdict(user: GraphUser, inbox: Any, token: AccessToken) -> Probe:
    if isinstance(inbox, GraphNotFound):
        return Probe(error=ItemCode.MAILBOX_NOT_ENABLED)
    if isinstance(inbox, BaseException):
        return Probe(error=_code(inbox))
    if token.roles is not None and not REQUIRED_ROLES.issubset(token.roles):
        return Probe(error=ItemCode.PERMISSION_MISSING)
    return Probe(user=user)


def _code(error: BaseException) -> ItemCode:
    if isinstance(error, MicrosoftUnavailable):
        return ItemCode.GRAPH_UNAVAILABLE
    if isinstance(error, GraphForbidden):
        return ItemCode.PERMISSION_MISSING
    if isinstance(error, MicrosoftError):
        return ItemCode.GRAPH_ERROR
    raise error
