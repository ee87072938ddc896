"""What the domains API refuses: the ``issue`` values of its 422 bodies, and its 404s.

Issues that name a state are codes (``domain_mismatch``, as Woodpecker writes them); issues
about a value's format are sentences (``must be a valid Base64 encoded file``). The table of
all of them is in ``docs/domains.md``.
"""

from __future__ import annotations

from perch.server.errors import FieldIssue, NotFound, ServiceUnavailable
from perch.server.integrations.google import GoogleRefused, GoogleUnavailable

# the path: which mailbox
NOT_FOUND = "not_found"
DOMAIN_MISMATCH = "domain_mismatch"
INVALID_EMAIL = "must be a valid email address"
# the mailbox's state
CANNOT_DELETE = "cannot_delete_due_to_not_connected_mailbox"
BEING_DELETED = "mailbox_being_deleted"
NOT_READY = "mailbox_not_ready"
PICTURE_NOT_SUPPORTED = "profile_picture_not_supported_for_provider"
NOT_IN_WORKSPACE = "not_found_in_google_workspace"
# orders
REQUIRED = "is required"
NOT_EMPTY = "must not be empty"
DUPLICATE = "duplicate"
UNKNOWN_PROVIDER = "must be one of MAILDOSO, MAILFORGE, GOOGLE, MICROSOFT"
PROVIDER_NOT_AVAILABLE = "provider_not_available"
NOT_CONNECTED = "google_workspace_not_connected"
OWNER_REQUIRED = "owner_required"
INVALID_DOMAIN = "must be a valid domain name"
DOMAIN_EXISTS = "domain_already_exists"
DOMAIN_NOT_IN_WORKSPACE = "domain_not_in_google_workspace"
DOMAIN_NOT_VERIFIED = "domain_not_verified_in_google_workspace"
DOMAIN_NOT_IN_ORDER = "domain_not_in_order"
DOMAIN_NOT_FOUND = "domain_not_found"
DOMAIN_NOT_READY = "domain_not_ready"
TOO_MANY_MAILBOXES = "too_many_mailboxes_for_domain"
MAILBOX_EXISTS = "mailbox_already_exists"
USER_EXISTS = "mailbox_already_exists_in_google_workspace"
NAME_TOO_LONG = "must be at most 60 characters"


class DomainNotFound(NotFound):
    default_detail = "Domain not found"


class MailboxNotFound(NotFound):
    default_detail = "Mailbox not found"


def issue(field: str, what: str, value: str | None = None) -> FieldIssue:
    return FieldIssue(field, what, value)


def google_trouble(error: GoogleUnavailable | GoogleRefused) -> ServiceUnavailable:
    """Google unreachable, or refusing the account's credentials: a 503 that says which."""
    if isinstance(error, GoogleUnavailable):
        return ServiceUnavailable(f"Google Workspace could not be reached: {error}")
    return ServiceUnavailable(f"Google Workspace refused the request: {error}")
