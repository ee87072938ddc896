"""Are these addresses Microsoft 365 mailboxes Perch can read and send from, with this app?

    found = await probe_all(graph, app, token, ["jim@contoso.com", ...])
    found["jim@contoso.com"].user (a GraphUser) or .error (an ItemCode)

1. For every address, ``GET /users/{address}`` and ``GET /users/{address}/mailFolders/inbox``,
   all sent through JSON batching (20 a round trip). A 404 for the user means the address is
   not a user principal name: ``$filter`` on mail / proxyAddresses then tells a primary
   ``mail`` (the inbox is asked again by user id) from an alias (``WRONG_ALIAS``) and from
   nobody (``USER_NOT_FOUND``).
2. The inbox answers: 404 ``MailboxNotEnabledForRESTAPI`` (or any 404 for an existing user):
   ``MAILBOX_NOT_ENABLED``; 403: ``PERMISSION_MISSING``.
3. Sending cannot be tried without sending, so the token's application roles must include
   ``Mail.Send`` and ``Mail.ReadWrite`` (replies are drafted, messages marked read) when the
   token says which roles it has.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from perch.server.integrations.microsoft import (
    AccessToken,
    AppCredential,
    GraphCall,
    GraphForbidden,
    GraphNotFound,
    GraphUser,
    MicrosoftError,
    MicrosoftGraph,
    MicrosoftUnavailable,
    Outcome,
)
from perch.server.microsoft.errors import ItemCode

REQUIRED_ROLES = frozenset({"Mail.Send", "Mail.ReadWrite"})


@dataclass(frozen=True)
class Probe:
    user: GraphUser | None = None
    error: ItemCode | None = None


async def probe_all(
    graph: MicrosoftGraph, app: AppCredential, token: AccessToken, addresses: list[str]
) -> dict[str, Probe]:
    calls = [c for a in addresses for c in (GraphCall.user(a), GraphCall.inbox(a))]
    outcomes = await graph.batch(app, calls)
    found: dict[str, Probe] = {}
    unknown: list[str] = []
    for n, address in enumerate(addresses):
        user, inbox = outcomes[2 * n], outcomes[2 * n + 1]
        if isinstance(user, GraphNotFound):
            unknown.append(address)
        elif isinstance(user, MicrosoftError):
            found[address] = Probe(error=_code(user))
        else:
            found[address] = _verdict(GraphUser.from_graph(user), inbox, token)
    again = await asyncio.gather(*(_by_address(graph, app, token, a) for a in unknown))
    return found | dict(zip(unknown, again, strict=True))


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
        inbox: Outcome = await graph.call(app, GraphCall.inbox(primary.id))
    except MicrosoftError as e:
        inbox = e
    return _verdict(primary, inbox, token)


def _verdict(user: GraphUser, inbox: Outcome, token: AccessToken) -> Probe:
    if isinstance(inbox, GraphNotFound):
        return Probe(error=ItemCode.MAILBOX_NOT_ENABLED)
    if isinstance(inbox, MicrosoftError):
        return Probe(error=_code(inbox))
    if token.roles is not None and not REQUIRED_ROLES.issubset(token.roles):
        return Probe(error=ItemCode.PERMISSION_MISSING)
    return Probe(user=user)


def _code(error: MicrosoftError) -> ItemCode:
    if isinstance(error, MicrosoftUnavailable):
        return ItemCode.GRAPH_UNAVAILABLE
    if isinstance(error, GraphForbidden):
        return ItemCode.PERMISSION_MISSING
    return ItemCode.GRAPH_ERROR
