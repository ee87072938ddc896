"""Secrets at rest: Fernet tokens under a list of keys (the first one encrypts).

    SecretBox.encrypt(str) -> token      (always under the first key)
    SecretBox.decrypt(token) -> str      (any configured key)
    SecretBox.rotate(token) -> token     (re-encrypted under the first key)

A token that no configured key opens raises ``SecretUnreadable``: that is a configuration
problem (a key was removed too early), never a user error.
"""

from __future__ import annotations

import hashlib
import os
import secrets
from collections.abc import Sequence
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet


class SecretUnreadable(Exception):
    """No configured key decrypts this token."""


class SecretBox:
    def __init__(self, keys: Sequence[str]) -> None:
        if not keys:
            raise ValueError("at least one key is needed")
        self._fernet = MultiFernet([Fernet(key.encode()) for key in keys])

    def encrypt(self, plaintext: str) -> str:
        return self._fernet.encrypt(plaintext.encode()).decode()

    def decrypt(self, token: str) -> str:
        try:
            return self._fernet.decrypt(token.encode()).decode()
        except InvalidToken as e:
            raise SecretUnreadable("no configured key decrypts this secret") from e

    def rotate(self, token: str) -> str:
        try:
            return self._fernet.rotate(token.encode()).decode()
        except InvalidToken as e:
            raise SecretUnreadable("no configured key decrypts this secret") from e


def generate_key() -> str:
    return Fernet.generate_key().decode()


def load_or_create_key_file(path: Path) -> str:
    """The embedded default's key: read it, or create it readable by the owner only."""
    if path.exists():
        return path.read_text().strip()
    key = generate_key()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(key + "\n")
    return key


def new_api_key() -> str:
    return "perch_" + secrets.token_urlsafe(32)


def hash_api_key(key: str) -> str:
    """API keys are 256-bit random tokens, so a plain SHA-256 is enough to store them."""
    return hashlib.sha256(key.encode()).hexdigest()
