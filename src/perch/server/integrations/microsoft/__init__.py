"""Microsoft identity platform + Graph, app-only (the client credentials grant).

    graph = MicrosoftGraph(runtime.http, login_url=..., graph_url=..., max_retries=4,
                           shared=GraphShared())          # shared: per process (runtime.state)
    app = AppCredential(tenant_id, client_id, client_secret)
    token = await graph.token(app)                  # cached until shortly before it expires
    user = await graph.get_user(app, "jim@contoso.com")
    users = await graph.find_users_by_address(app, "jh@contoso.com")
    inbox = await graph.get_inbox(app, user.id)
    outcomes = await graph.batch(app, [GraphCall.user(a) for a in addresses])  # $batch

A resource is a ``GraphCall`` builder (``models.py``) plus, when it is used alone, one method;
every request goes through ``_send`` (retries) and ``_result`` (the shared answer handler):

* 429, 5xx and network errors are retried up to ``max_retries`` times, waiting for
  ``Retry-After`` when Microsoft sends one (an exponential backoff otherwise); a wait longer
  than ``max_retry_after`` gives up at once. Inner answers of a ``$batch`` likewise.
* A 401 from Graph is retried once with a fresh token (the cached one may have been revoked).
* At most ``MAILBOX_CONCURRENCY`` (4) requests at once per mailbox, Graph's own limit (a
  ``$batch`` counts each request inside it), and ``MailboxLimits.overall`` HTTP requests at
  once in the process.

Exceptions::

    MicrosoftError
    ├── MicrosoftUnavailable     transient: network, timeout, 429, 5xx (retries exhausted)
    └── MicrosoftRefused         permanent: Microsoft answered no (.status, .code, .message)
        ├── TokenRefused         the identity platform refused the credential (AADSTS...)
        ├── GraphForbidden       403: the app lacks a permission or a policy keeps it out
        └── GraphNotFound        404: no such user, or no mailbox (code tells which)

Adding a resource (list messages, reply, mark read): a ``GraphCall`` builder naming its
``mailbox`` and a method ``return Parsed.from_graph(await self.call(app, GraphCall.x(...)))``.
"""

from perch.server.integrations.microsoft.client import (
    BATCH_SIZE,
    GRAPH_SCOPE,
    MicrosoftGraph,
    Outcome,
)
from perch.server.integrations.microsoft.errors import (
    GraphForbidden,
    GraphNotFound,
    MicrosoftError,
    MicrosoftRefused,
    MicrosoftUnavailable,
    TokenRefused,
)
from perch.server.integrations.microsoft.models import (
    USER_FIELDS,
    AccessToken,
    AppCredential,
    GraphCall,
    GraphUser,
    MailFolder,
    granted_roles,
)
from perch.server.integrations.microsoft.shared import (
    MAILBOX_CONCURRENCY,
    GraphShared,
    MailboxLimits,
    TokenCache,
)

__all__ = [
    "BATCH_SIZE",
    "GRAPH_SCOPE",
    "MAILBOX_CONCURRENCY",
    "USER_FIELDS",
    "AccessToken",
    "AppCredential",
    "GraphCall",
    "GraphForbidden",
    "GraphNotFound",
    "GraphShared",
    "GraphUser",
    "MailFolder",
    "MailboxLimits",
    "MicrosoftError",
    "MicrosoftGraph",
    "MicrosoftRefused",
    "MicrosoftUnavailable",
    "Outcome",
    "TokenCache",
    "TokenRefused",
    "granted_roles",
]
