"""The reply endpoint's errors, with the seed's exact texts."""

from __future__ import annotations

from perch.server.errors import BadRequest, NotFound, PerchError

INVALID_BODY = "Invalid request body"
INVALID_TO = "Recipient email if provided must be valid email address"
INVALID_CC = "Cc emails if provided must contain comma-separated valid email addresses"
INVALID_BCC = "Bcc emails if provided must contain comma-separated valid email addresses"


class InvalidReply(BadRequest):
    pass


class MessageNotFound(NotFound):
    default_detail = "Requested resource does not exist"


class MailboxNotFound(NotFound):
    default_detail = "Mailbox not found"


class SendRefused(PerchError):
    """The mail server (or Graph) refused the message; the detail says what it answered."""


class OutcomeUnknown(PerchError):
    default_detail = (
        "An earlier attempt with this Idempotency-Key may have been delivered (the connection "
        "was lost after the message was handed over), so it was not sent again."
    )
