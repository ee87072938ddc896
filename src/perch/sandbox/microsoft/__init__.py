"""A Microsoft identity platform + Graph fake, served over HTTPS with the sandbox CA.

What it answers (the parts Perch uses, in Microsoft's shapes):

* ``POST /{tenant}/oauth2/v2.0/token``: the client credentials grant for
  ``https://graph.microsoft.com/.default``. Unknown tenant, unknown app, wrong or expired
  secret, wrong grant or scope answer ``{"error", "error_description": "AADSTS...", ...}``.
  Tokens are JWTs carrying ``tid``, ``appid`` and the app's ``roles``.
* ``GET /v1.0/users/{id or userPrincipalName}`` (``$select``), ``GET /v1.0/users?$filter=``
  (``mail eq``, ``userPrincipalName eq``, ``proxyAddresses/any(x:x eq 'smtp:...')`` joined by
  ``or``) and ``GET /v1.0/users/{id or upn}/mailFolders/inbox``. A user without a mailbox
  answers 404 ``MailboxNotEnabledForRESTAPI``; missing roles answer 403 as Graph does
  (``Authorization_RequestDenied`` for the directory, ``ErrorAccessDenied`` for mail).
* ``POST /v1.0/$batch`` (JSON batching, up to 20 requests): each inner request goes through
  its own route, so it is logged, delayed, faulted and counted like a request of its own;
  the envelope itself adds no latency.

Faults and observation, safe to change while it serves::

    fake = SandboxMicrosoft(ca)
    fake.add_tenant("t1", "app-id", "s3cret")             # roles=DEFAULT_ROLES
    fake.add_user("jim@example.com", display_name="Jim", proxy_addresses=["jh@example.com"])
    fake.add_user("old@example.com", has_mailbox=False)
    fake.fail_next(2, 429, retry_after=1)                 # the next two Graph requests
    fake.fail_next(1, 503, where="token")                 # the next token request
    fake.fail_user("jim@example.com", 503)                # every request naming this user
    fake.outage = True                                    # every Graph request: 503
    fake.latency = 0.1                                    # seconds before every answer
    fake.tokens.lifetime = 3599                           # expires_in of new tokens
    fake.tokens.revoke_all()                              # issued tokens now get 401
    fake.requests                                         # what was asked, in order
    fake.graph_requests(), fake.batch_requests()          # Graph resources, $batch envelopes
    fake.peak_concurrency[user.id]                        # most mailbox requests at once

    async with fake:                                      # or fake.start() / fake.stop()
        fake.url, fake.graph_url                          # login base, Graph base

More than four requests at once inside one mailbox get 429 ``ApplicationThrottled`` as Graph
does. New resources (messages, replies) are one route each in ``server.SandboxMicrosoft._routes``.
"""

from perch.sandbox.microsoft.directory import DEFAULT_ROLES, GRAPH_SCOPE, FakeApp, FakeUser
from perch.sandbox.microsoft.server import MAILBOX_CONCURRENCY, RecordedRequest, SandboxMicrosoft

__all__ = [
    "DEFAULT_ROLES",
    "GRAPH_SCOPE",
    "MAILBOX_CONCURRENCY",
    "FakeApp",
    "FakeUser",
    "RecordedRequest",
    "SandboxMicrosoft",
]
