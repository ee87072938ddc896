"""Fixtures the hardening tests share with the inbox tests."""

from tests.server.inbox.conftest import make_mailbox  # noqa: F401 (a fixture)
