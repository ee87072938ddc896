"""The timestamp formats the Woodpecker API uses, side by side."""

from __future__ import annotations

from datetime import UTC, datetime


def utcnow() -> datetime:
    return datetime.now(UTC)


def naive_utc(value: datetime) -> datetime:
    """Stored timestamps are UTC without a zone (SQLite keeps no zone)."""
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return value


def legacy(value: datetime) -> str:
    """``2025-03-05 17:57:00``: v2 problem bodies."""
    return naive_utc(value).strftime("%Y-%m-%d %H:%M:%S")


def iso_z(value: datetime) -> str:
    """``2026-05-06T12:00:00Z``: the domains API's problem bodies."""
    return naive_utc(value).strftime("%Y-%m-%dT%H:%M:%SZ")


def iso_local(value: datetime) -> str:
    """``2027-06-24T10:00:00``: domain timestamps, no zone."""
    return naive_utc(value).strftime("%Y-%m-%dT%H:%M:%S")
