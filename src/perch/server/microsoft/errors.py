"""The Microsoft domain's error codes and refusals.

Batch codes answer 422 ``{"message": CODE}`` on the bulk endpoint (the batch was not
processed); item codes are the ``error`` of one result element. Both are stable API: every
value is listed in docs/microsoft.md.
"""

from __future__ import annotations

from enum import StrEnum

from perch.server.errors import RejectedWithCode


class BatchCode(StrEnum):
    INVALID_CREDENTIAL_ID = "INVALID_CREDENTIAL_ID"  # unknown, or another account's
    CREDENTIAL_ID_REQUIRED = "CREDENTIAL_ID_REQUIRED"  # omitted, several valid credentials
    NO_VALID_CREDENTIAL = "NO_VALID_CREDENTIAL"  # omitted, no unexpired credential
    CREDENTIAL_EXPIRED = "CREDENTIAL_EXPIRED"  # secret_expires_at has passed
    CREDENTIAL_REJECTED = "CREDENTIAL_REJECTED"  # Microsoft refuses it a token now
    UNSUPPORTED_AUTH_TYPE = "UNSUPPORTED_AUTH_TYPE"  # auth_type other than APP_ONLY
    NO_ACCOUNTS = "NO_ACCOUNTS"  # accounts missing or empty
    TOO_MANY_ACCOUNTS = "TOO_MANY_ACCOUNTS"  # more than MAX_ACCOUNTS
    MAILBOX_EMAIL_REQUIRED = "MAILBOX_EMAIL_REQUIRED"  # an entry without mailbox_email


class ItemCode(StrEnum):
    INVALID_EMAIL = "INVALID_EMAIL"
    INVALID_DISPLAY_NAME = "INVALID_DISPLAY_NAME"
    DUPLICATE_IN_REQUEST = "DUPLICATE_IN_REQUEST"
    ALREADY_CONNECTED = "ALREADY_CONNECTED"
    USER_NOT_FOUND = "USER_NOT_FOUND"
    WRONG_ALIAS = "WRONG_ALIAS"
    MAILBOX_NOT_ENABLED = "MAILBOX_NOT_ENABLED"
    PERMISSION_MISSING = "PERMISSION_MISSING"
    GRAPH_UNAVAILABLE = "GRAPH_UNAVAILABLE"
    GRAPH_ERROR = "GRAPH_ERROR"


def batch_refused(code: BatchCode) -> RejectedWithCode:
    return RejectedWithCode(code.value)
