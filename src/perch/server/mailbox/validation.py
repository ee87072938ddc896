"""The bulk request, checked by hand so every message is Woodpecker's, byte for byte.

``parse_bulk(raw)`` returns a ``MailboxBulkCreate`` or raises:

* ``InvalidJson`` for a body that is not JSON (``{"code": "UNKNOWN", ...}``)
* ``ValidationFailure`` listing every problem, one sentence each, e.g.
  ``mailbox[0].imap_port must be provided and in range <1,65535>``

A value of the wrong JSON type gets its field's message, like any other invalid value; ``null``
for an optional field means "not provided". Unknown fields are ignored. Addresses and domains
are trimmed and lower-cased.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from email_validator import EmailNotValidError, validate_email

from perch.server.errors import InvalidJson, ValidationFailure
from perch.server.mailbox.schemas import (
    MAX_MAILBOXES,
    CompletionNotificationType,
    MailboxBulkCreate,
)

EMAIL = "must be a valid email address"
OPTIONAL_EMAIL = "if provided must be a valid email address"
NOT_BLANK = "must not be blank"
OPTIONAL_NOT_BLANK = "if provided must not be blank"
PORT = "must be provided and in range <1,65535>"
DOMAIN = "if provided must be a valid domain"
LIMIT = "if provided must be in range <1,5500>"
WAIT_FROM = (
    "if provided must be present along with and lower than sending_wait_time_to "
    "and be in range <10,9999>"
)
WAIT_TO = (
    "if provided must be present along with and higher than sending_wait_time_from "
    "and be in range <20,9999>"
)
MAILBOXES = f"mailboxes must contain between 1 and {MAX_MAILBOXES} mailboxes"
TYPES = ", ".join(t.value for t in CompletionNotificationType)
_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
_TLD = re.compile(r"^(?:[a-z]{2,63}|xn--[a-z0-9-]{1,59})$")

Check = Callable[[Any], Any]  # returns the cleaned value, or raises ValueError


def parse_bulk(raw: bytes) -> MailboxBulkCreate:
    body = _load(raw)
    details: list[str] = []
    mailboxes = [_mailbox(i, entry, details) for i, entry in enumerate(_entries(body, details))]
    types = _notification_types(body.get("completion_notification_types"), details)
    if details:
        raise ValidationFailure(details)
    return MailboxBulkCreate.model_validate(
        {"mailboxes": mailboxes, "completion_notification_types": types}
    )


def _load(raw: bytes) -> dict[str, Any]:
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as e:
        raise InvalidJson("Malformed JSON request body") from e
    if not isinstance(body, dict):
        raise ValidationFailure(["request body must be a JSON object with a mailboxes array"])
    return body


def _entries(body: dict[str, Any], details: list[str]) -> list[Any]:
    entries = body.get("mailboxes")
    if not isinstance(entries, list) or not 1 <= len(entries) <= MAX_MAILBOXES:
        details.append(MAILBOXES)
        return []
    return entries


def _notification_types(value: Any, details: list[str]) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list):
        details.append(f"completion_notification_types if provided must be a list of {TYPES}")
        return []
    known = {t.value for t in CompletionNotificationType}
    valid = [item for item in value if isinstance(item, str) and item in known]
    for i, item in enumerate(value):
        if not (isinstance(item, str) and item in known):  # an object or list is unhashable
            details.append(f"completion_notification_types[{i}] must be one of {TYPES}")
    return list(dict.fromkeys(valid))


def _mailbox(index: int, entry: Any, details: list[str]) -> dict[str, Any]:
    if not isinstance(entry, dict):
        details.append(f"mailbox[{index}] must be an object")
        return {}
    clean: dict[str, Any] = {}
    for field, check, message, required in FIELDS:
        value = entry.get(field)
        if field == "sending_wait_time_from":  # the pair is checked together, in this place
            details.extend(f"mailbox[{index}].{m}" for m in _wait_times(entry))
        if value is None and not required:
            continue
        try:
            clean[field] = check(value)
        except ValueError as e:
            if check is not _wait:
                details.append(f"mailbox[{index}].{field} {e.args[0] if e.args else message}")
    return clean


def _wait_times(entry: dict[str, Any]) -> list[str]:
    """Both or neither, each in range, from < to (messages as Woodpecker words them)."""
    low, high = entry.get("sending_wait_time_from"), entry.get("sending_wait_time_to")
    if low is None and high is None:
        return []
    low_ok, high_ok = _is_int_in(low, 10, 9999), _is_int_in(high, 20, 9999)
    crossed = low_ok and high_ok and int(low) >= int(high)  # type: ignore[arg-type]
    problems = []
    if not low_ok or high is None or crossed:
        problems.append(f"sending_wait_time_from {WAIT_FROM}")
    if not high_ok or low is None or crossed:
        problems.append(f"sending_wait_time_to {WAIT_TO}")
    return problems


def _is_int_in(value: Any, low: int, high: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and low <= value <= high


def email(value: Any) -> str:
    if not isinstance(value, str) or len(value.strip()) > 320:
        raise ValueError
    text = value.strip()
    try:
        validate_email(text, check_deliverability=False, test_environment=True)
    except EmailNotValidError as e:
        raise ValueError from e
    return text.lower()


def text(limit: int | None = None) -> Check:
    def check(value: Any) -> str:
        if not isinstance(value, str) or not value.strip():
            raise ValueError
        if limit is not None and len(value) > limit:
            raise ValueError(f"must be at most {limit} characters")
        return value

    return check


def host(value: Any) -> str:
    return str(text(255)(value)).strip().lower()


def port(value: Any) -> int:
    if not _is_int_in(value, 1, 65535):
        raise ValueError
    return int(value)


def domain(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError
    name = value.strip().lower().removesuffix(".")
    labels = name.split(".")
    if len(name) > 253 or len(labels) < 2 or not all(_LABEL.match(label) for label in labels):
        raise ValueError
    if not _TLD.match(labels[-1]):
        raise ValueError
    return name


def limit(value: Any) -> int:
    if not _is_int_in(value, 1, 5500):
        raise ValueError
    return int(value)


def _wait(value: Any) -> Any:
    return value  # checked together by _wait_times


# field, check, message, required. The order is the order of the details: the seed's example
# lists smtp_password, imap_port, the wait times, then open_tracking_domain.
FIELDS: list[tuple[str, Check, str, bool]] = [
    ("smtp_email", email, EMAIL, True),
    ("smtp_login", text(320), OPTIONAL_NOT_BLANK, False),
    ("smtp_password", text(), NOT_BLANK, True),
    ("smtp_server", host, NOT_BLANK, True),
    ("smtp_port", port, PORT, True),
    ("smtp_from_name", text(200), OPTIONAL_NOT_BLANK, False),
    ("imap_email", email, EMAIL, True),
    ("imap_password", text(), NOT_BLANK, True),
    ("imap_server", host, NOT_BLANK, True),
    ("imap_port", port, PORT, True),
    ("sending_wait_time_from", _wait, WAIT_FROM, False),
    ("sending_wait_time_to", _wait, WAIT_TO, False),
    ("footer", text(), OPTIONAL_NOT_BLANK, False),
    ("bcc", email, OPTIONAL_EMAIL, False),
    ("open_tracking_domain", domain, DOMAIN, False),
    ("click_tracking_domain", domain, DOMAIN, False),
    ("unsubscribe_tracking_domain", domain, DOMAIN, False),
    ("daily_sending_limit", limit, LIMIT, False),
]
