"""Domain names and mailbox addresses: lower-case, checked without any network access."""

from __future__ import annotations

import re

_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
_DOMAIN = re.compile(rf"^(?:{_LABEL}\.)+{_LABEL}$")
_USERNAME = re.compile(r"^[a-z0-9'_-][a-z0-9'._-]{0,63}$")  # what Workspace accepts


def normalize(value: str) -> str:
    return value.strip().lower()


def is_domain(name: str) -> bool:
    return len(name) <= 253 and bool(_DOMAIN.match(name))


def is_mailbox_email(email: str) -> bool:
    """A Workspace user name (letters, digits, ``' . _ -``) at a valid domain."""
    local, at, domain = email.rpartition("@")
    return bool(at) and bool(_USERNAME.match(local)) and ".." not in local and is_domain(domain)


def domain_of(email: str) -> str:
    return email.rpartition("@")[2]
