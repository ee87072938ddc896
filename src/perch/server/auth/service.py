"""Accounts and API keys: keys are random, shown once, stored as a hash."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from perch.server.auth import repository
from perch.server.kit.crypto import hash_api_key, new_api_key
from perch.server.models import Account, ApiKey

DEFAULT_ACCOUNT = "default"


@dataclass(frozen=True)
class IssuedKey:
    account: Account
    key_id: int
    key: str  # the only time the key exists in clear


async def get_or_create_account(session: AsyncSession, name: str) -> Account:
    account = await repository.account_by_name(session, name)
    if account is None:
        account = Account(name=name)
        await repository.add(session, account)
    return account


async def issue_key(
    session: AsyncSession, account_name: str, label: str | None = None
) -> IssuedKey:
    account = await get_or_create_account(session, account_name)
    key = new_api_key()
    row = ApiKey(account_id=account.id, key_hash=hash_api_key(key), prefix=key[:12], label=label)
    await repository.add(session, row)
    return IssuedKey(account, row.id, key)


async def bootstrap(session: AsyncSession) -> IssuedKey | None:
    """On an empty database: the ``default`` account and its first key."""
    if await repository.count_accounts(session):
        return None
    return await issue_key(session, DEFAULT_ACCOUNT, label="created on first start")


async def authenticate(session: AsyncSession, key: str | None) -> Account | None:
    if not key:
        return None
    return await repository.account_for_key_hash(session, hash_api_key(key))


def key_from_headers(x_api_key: str | None, authorization: str | None) -> str | None:
    """``x-api-key: K`` or ``Authorization: Basic base64(":K")`` (empty user, key as password)."""
    if x_api_key:
        return x_api_key.strip()
    scheme, _, value = (authorization or "").partition(" ")
    if scheme.lower() != "basic" or not value:
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None
    user, sep, password = decoded.partition(":")
    return password if sep and not user and password else None


async def list_keys(session: AsyncSession, account_name: str | None) -> list[tuple[ApiKey, str]]:
    return await repository.keys(session, account_name)


async def revoke_key(session: AsyncSession, key_id: int) -> bool:
    return await repository.revoke(session, key_id)
