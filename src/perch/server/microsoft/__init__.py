"""Microsoft 365 mailboxes through Microsoft Graph app-only credentials.

* credentials: ``/rest/v2/mailboxes/microsoft/credentials`` (list, create, rename/rotate,
  delete) in the problem dialect; a credential is checked against the identity platform
  before it is saved, and its secret is stored encrypted.
* bulk: ``POST /rest/v2/mailboxes/microsoft/bulk`` (seed 002, message-code dialect) checks
  every address against Graph (user, primary address, mailbox, permissions) and stores the
  connected ones as GRAPH mailboxes.

Other features reach Graph for a stored mailbox with ``service.graph_for(runtime)`` and
``service.app_credential(runtime, credential)`` (see docs/microsoft.md).
"""
