"""E-mail address checks shared by every endpoint (offline: no DNS lookups)."""

from __future__ import annotations

from email_validator import EmailNotValidError, validate_email


def normalized_email(value: str) -> str | None:
    """The address with its domain lower-cased, or None when it is not a valid address."""
    try:
        result = validate_email(value.strip(), check_deliverability=False)
    except EmailNotValidError:
        return None
    return result.normalized


def email_list(value: str) -> list[str] | None:
    """A comma-separated list of addresses, or None when any of them is not valid."""
    parts = [part.strip() for part in value.split(",")]
    if not any(parts):
        return None
    addresses = [normalized_email(part) for part in parts if part]
    if any(address is None for address in addresses):
        return None
    return [address for address in addresses if address is not None]
